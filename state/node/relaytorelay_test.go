package node

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// Both sides reach only the server, so the path runs from one relayed
// address to the other, and both relayed addresses share the server's one
// IP: one permission each way covers the old relayed addresses and the new
// ones. The server restarts; one side's probe counts as lost first, it
// verifies, re-allocates and withdraws its relay candidate, and the other
// side loses its path to that withdrawal before its own probe counts as
// lost. It must still verify its own allocation, which went in the same
// restart: it did not, and its checks vanished at the server until the
// connection failed with RelayLost at the probe timeout.
//
// The first side also re-asks, on the lost allocation, for the permission
// and channel of its silent path. RFC 8656 has the server answer 437;
// coturn 4.6 answers 400, and the client gives both up. The Node must
// forget them too and ask again on the new allocation: counting them as
// held, it asked for nothing, and the server dropped every check between
// the new relayed addresses.
func TestARelayToRelayConnectionSurvivesARestartOfTheServerBothRelaysAreOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
	}{
		{"lost permissions answered 437 as in RFC 8656", 0},
		{"lost permissions answered 400 as by coturn", int(turn.CodeBadRequest)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newVerifyPair(t, 32, [2]bool{true, true})
			h.serverOnly = true
			h.restartTweak = func(c *turnserver.Config) { c.NoAllocationCode = tc.code }
			h.connect([2]Role{Controlling, Controlled})
			h.runFor(5 * time.Second)
			h.mustConnect()
			for i, n := range h.nodes {
				if p, _ := n.Path(connID); p.Local.Type != stunmsg.Relay || p.Remote.Type != stunmsg.Relay {
					t.Fatalf("%s connected on %v, not relay to relay", names[i], p)
				}
			}
			h.restartUnder()
			var verified [2]uint64
			for i, n := range h.nodes {
				st, _ := n.RelayStats(relayAddr)
				verified[i] = st.Client.Verifications
			}
			if verified[0] == 0 || verified[1] == 0 {
				t.Fatalf("verifications %v, want both sides' allocations verified", verified)
			}
		})
	}
}
