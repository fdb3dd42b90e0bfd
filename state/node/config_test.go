package node

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerlink/peerlink/state/turn"
)

// A zero Config gets exactly DefaultConfig's values (the relay's timers
// excepted: turn.New fills those), so the documented defaults are the
// ones a Node runs with.
func TestAZeroConfigRunsWithDefaultConfig(t *testing.T) {
	want := DefaultConfig()
	want.ICE = want.ICE.WithDefaults()
	want.Relay = turn.Config{}
	if diff := cmp.Diff(want, Config{}.withDefaults()); diff != "" {
		t.Fatalf("zero config with defaults differs from DefaultConfig (-want +got):\n%s", diff)
	}
}
