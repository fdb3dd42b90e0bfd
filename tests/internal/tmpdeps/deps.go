package deps
import (
 _ "github.com/peerlink/peerlink/internal/tmpdeps"
 _ "github.com/pion/ice/v4"
 _ "github.com/pion/turn/v4"
 _ "golang.zx2c4.com/wireguard/conn"
 _ "pgregory.net/rapid"
)
