package node

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// newVerifyPair is a relay-only pair harness whose allocations are
// refreshed on the default schedule (every 5 min): a server that forgets
// them is found only through the connection's silence.
func newVerifyPair(t *testing.T, seed uint64, relay [2]bool) *pairHarness {
	return newRelayOnlyPair(t, seed, relay, fastRelay)
}

// carryOverBound is how soon after the server forgets its allocations both
// sides must be on a new path: the first probe after the restart leaves
// within ProbeInterval and counts as lost ProbeLossAfter later (3 s at
// most), the Refresh meets 438 and 437 and the new Allocate succeeds in
// three round trips, the checks and the nomination take a few more.
const carryOverBound = 4 * time.Second

// restartUnder restarts the relay under a connected pair and returns what
// each side reported after it, failing the test unless both are on a new
// relayed path within carryOverBound, never failed nor connected anew.
func (h *pairHarness) restartUnder() [2][]string {
	t := h.t
	var before [2]int
	var oldPath [2]Path
	for i, n := range h.nodes {
		before[i] = len(h.events[i])
		oldPath[i], _ = n.Path(connID)
	}
	h.restartRelay()
	restart := h.now
	h.runFor(carryOverBound)
	var evs [2][]string
	for i, n := range h.nodes {
		evs[i] = h.eventsAfter(i, before[i])
		p, ok := n.Path(connID)
		if !ok || !throughRelay(p) || p == oldPath[i] {
			t.Fatalf("%s: path %v (%v) %v after the restart, want a new relayed one; events %q\n%s",
				names[i], p, ok, carryOverBound, evs[i], strings.Join(h.log, "\n"))
		}
		for _, e := range evs[i] {
			if strings.Contains(e, " failed ") || strings.Contains(e, " connected ") {
				t.Fatalf("%s: %q after the restart", names[i], e)
			}
		}
	}
	// The new path carries data and stays up until the probe timeout of
	// the old one would long have passed.
	got := h.received
	h.send(0, 10, 300)
	h.send(1, 10, 300)
	h.runUntil(restart.Add(2 * ice.DefaultConfig().ProbeTimeout))
	h.mustConnect()
	if h.received[0]-got[0] != 10 || h.received[1]-got[1] != 10 {
		t.Fatalf("received a=%d b=%d of 10 each on the new path", h.received[0]-got[0], h.received[1]-got[1])
	}
	return evs
}

// Refreshes are minutes apart; the relay restarts and every relayed
// datagram is dropped. The side whose path leaves from its relayed address
// sees its probes go unanswered and verifies the allocation at once: 437,
// a new allocation, and the connection is carried over within seconds
// instead of failing with ProbeTimeout.
func TestASilentPathThroughOurRelayVerifiesTheAllocationAndMovesToANewOne(t *testing.T) {
	for _, tc := range relayLayouts {
		t.Run(tc.name, func(t *testing.T) {
			h := newVerifyPair(t, 30, tc.relay)
			h.connect(tc.roles)
			h.runFor(5 * time.Second)
			h.mustConnect()
			h.send(0, 1, 100) // active timing: probes every 1.5 s
			h.restartUnder()
			var verified uint64
			for _, n := range h.nodes {
				if st, ok := n.RelayStats(relayAddr); ok {
					verified += st.Client.Verifications
					if st.Client.Refreshes != 0 && st.Client.Reallocations != 1 {
						t.Fatalf("relay stats %+v", st.Client)
					}
				}
			}
			if verified == 0 {
				t.Fatal("no verification counted")
			}
		})
	}
}

// The peer's path points at our relayed address, and the application
// does not signal our withdrawal of it: the peer learns only our new relay
// candidate. Its silent path toward the old one is given up as soon as the
// new one arrives, and it moves to the new one without waiting for
// SwitchAfter or its probe timeout.
func TestAPeerWhosePathPointsAtAReplacedRelayCandidateMovesToTheNewOneWithoutItsWithdrawal(t *testing.T) {
	for _, roles := range [][2]Role{{Controlling, Controlled}, {Controlled, Controlling}} {
		t.Run(roles[0].String(), func(t *testing.T) {
			h := newVerifyPair(t, 31, [2]bool{true, false})
			h.unsignalledWithdrawals = true
			h.connect(roles)
			h.runFor(5 * time.Second)
			h.mustConnect()
			h.send(0, 1, 100)
			if p, _ := h.nodes[1].Path(connID); p.Remote.Type != stunmsg.Relay {
				t.Fatalf("b's path %v does not point at a's relay", p)
			}
			h.restartUnder()
			if st := h.nodes[1].Stats(); st.PeerRelaysReplaced != 1 {
				t.Fatalf("b replaced %d peer relay candidates, want 1", st.PeerRelaysReplaced)
			}
			// Dropping the candidate after b's timers ran puts pairs
			// back to checking at once: they run in the same
			// HandleTimeout, and no deadline counts as stuck.
			for i, n := range h.nodes {
				if st := n.Stats(); st.StuckTimers != 0 {
					t.Fatalf("node %d: %d stuck timers", i, st.StuckTimers)
				}
			}
		})
	}
}
