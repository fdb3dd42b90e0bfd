package deps

import (
	_ "github.com/google/btree"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/pion/stun/v2"
	_ "golang.org/x/sys/unix"
	_ "pgregory.net/rapid"
)
