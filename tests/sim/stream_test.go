package sim_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/peerlink/peerlink/state/gso"
)

// The properties again, in worlds whose relay the Nodes reach over TCP (the
// simulator's stream model: in order, no loss, broken with the client's
// network; the relayed leg UDP). Fewer cases than over UDP: the worlds are
// drawn the same way, only the relay's transport differs.
const casesStream = 30

func TestP1OverTCPRelays(t *testing.T) {
	withChecks(t, casesStream, func(t *rapid.T) {
		checkNoFalsePositive(t, run(t, genSpec(t, genOptions{policy: gso.ControlFirst, streamRelay: true})))
	})
}

func TestP2OverTCPRelays(t *testing.T) {
	withChecks(t, casesStream, func(t *rapid.T) {
		checkNoFalseNegative(t, genOptions{policy: gso.ControlFirst, cut: true, streamRelay: true})
	})
}

func TestP3OverTCPRelays(t *testing.T) {
	withChecks(t, casesStream, propOrder(gso.ControlFirst, genOptions{streamRelay: true}))
}

func TestP4OverTCPRelays(t *testing.T) {
	withChecks(t, casesStream/3, func(t *rapid.T) {
		s := genSpec(t, genOptions{policy: gso.ControlFirst, cut: rapid.Bool().Draw(t, "cut"), streamRelay: true})
		a, b := run(t, s), run(t, s)
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Fatalf("trace %016x (%d events), then %016x (%d)", a.TraceHash, a.Events, b.TraceHash, b.Events)
		}
	})
}
