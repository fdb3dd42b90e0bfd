package node

import (
	"testing"

	"github.com/peerlink/peerlink/state/internal/iceagent"
)

// An agent's drop reason is counted under the Node's reason of the same
// name, so a drop reads the same in iceagent's tests and in Node's Stats.
func TestEveryAgentDropReasonIsCountedUnderTheNodeReasonOfTheSameName(t *testing.T) {
	for r := iceagent.DropNone; int(r) < iceagent.NumDropReasons; r++ {
		if got := dropReason(r); got.String() != r.String() {
			t.Errorf("ice reason %v counted as %v", r, got)
		}
	}
}
