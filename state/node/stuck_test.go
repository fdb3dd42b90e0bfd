package node

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/turn"
)

// A deadline that does not move past the time it ran at is a bug in the
// core. The Node must neither spin in HandleTimeout nor panic: it counts
// the fault and ends the owner with a typed reason, and the rest of the
// Node goes on. The fault is forced with the test-only skipTimeouts: the
// due timers are not run, so the deadline stays where it was.
func TestAConnectionWhoseDeadlineDoesNotAdvanceFailsWithInternal(t *testing.T) {
	h := newPairHarness(t, 31, ice.Config{})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(2 * time.Second)
	h.mustConnect()

	n := h.nodes[0]
	n.faults = &faults{skipTimeouts: true}
	at, _, ok := n.PollTimeout()
	if !ok {
		t.Fatal("a connected Node has no deadline")
	}
	n.HandleTimeout(at) // would panic, or loop for ever
	n.faults = nil

	if got := n.Stats().StuckTimers; got != 1 {
		t.Fatalf("StuckTimers = %d, want 1", got)
	}
	var failed *Failed
	for {
		e, ok := n.PollEvent()
		if !ok {
			break
		}
		if f, isFailed := e.(Failed); isFailed {
			failed = &f
		}
	}
	if failed == nil || failed.Reason != Internal || failed.Conn != connID {
		t.Fatalf("want Failed{conn %d, Internal}, got %v", connID, failed)
	}
	if err := n.Send(h.now, connID, []byte("x")); err != ErrConnFailed {
		t.Fatalf("Send after the fault: %v, want ErrConnFailed", err)
	}
	// The Node goes on: its remaining timers advance and a new connection
	// can be made.
	n.HandleTimeout(at.Add(time.Second))
}

// A step may leave its connection due at the same instant (the relay
// checks after the agent's timers can drop a peer's replaced relay
// candidate and put pairs back to checking at once). HandleTimeout runs it
// again in the same call: nothing is stuck and nothing fails.
func TestAConnectionLeftDueByItsOwnStepRunsAgainInTheSameHandleTimeout(t *testing.T) {
	h := newPairHarness(t, 31, ice.Config{})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(2 * time.Second)
	h.mustConnect()

	n := h.nodes[0]
	n.faults = &faults{skipFirstStep: true}
	at, _, ok := n.PollTimeout()
	if !ok {
		t.Fatal("a connected Node has no deadline")
	}
	n.HandleTimeout(at)
	n.faults = nil

	if got := n.Stats().StuckTimers; got != 0 {
		t.Fatalf("StuckTimers = %d, want 0", got)
	}
	if next, _, _ := n.PollTimeout(); !next.After(at) {
		t.Fatalf("the deadline %v did not move past %v: the second step did not run", next, at)
	}
	for {
		e, ok := n.PollEvent()
		if !ok {
			break
		}
		if f, isFailed := e.(Failed); isFailed {
			t.Fatalf("the connection failed: %v", f)
		}
	}
}

func TestARelayWhoseDeadlineDoesNotAdvanceIsRemovedWithLostInternal(t *testing.T) {
	h := newRelayPair(t, 32)
	h.runFor(time.Second) // allocated; no connection, so only the relay has timers
	n := h.nodes[0]
	if len(n.Relays()) != 1 {
		t.Fatal("relay not added")
	}
	n.faults = &faults{skipTimeouts: true}
	at, _, ok := n.PollTimeout()
	if !ok {
		t.Fatal("an allocated relay has no deadline")
	}
	n.HandleTimeout(at)
	n.faults = nil

	if got := n.Stats().StuckTimers; got != 1 {
		t.Fatalf("StuckTimers = %d, want 1", got)
	}
	if len(n.Relays()) != 0 {
		t.Fatal("the relay with the stuck timer is still there")
	}
	var lost *RelayFailed
	for {
		e, ok := n.PollEvent()
		if !ok {
			break
		}
		if l, isLost := e.(RelayFailed); isLost {
			lost = &l
		}
	}
	if lost == nil || lost.Reason != turn.LostInternal {
		t.Fatalf("want RelayFailed{LostInternal}, got %v", lost)
	}
}
