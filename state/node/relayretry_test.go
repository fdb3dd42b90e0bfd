package node

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/turn"
)

// relayLosses returns the RetryIn of every RelayFailed node i raised.
func (h *pairHarness) relayLosses(i int) []time.Duration {
	var out []time.Duration
	for _, e := range h.events[i] {
		if l, ok := e.(RelayFailed); ok {
			out = append(out, l.RetryIn)
		}
	}
	return out
}

// A relay that dies is not gone for good: each loss is reported, the Node
// tries again after 1 s, 2 s, 4 s, ... and once the server answers again
// the relay is allocated, and the connection that lost it (still up on
// its direct path) gets its relay candidate back.
func TestALostRelayIsTriedAgainWithDoublingWaitsAndComesBackWithTheServer(t *testing.T) {
	h := newPairHarness(t, 40, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.withRelay()
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()

	h.relayDown = true
	h.runFor(40 * time.Second)
	// Lost 6.5 s after the keepalive before it; each fresh client's first
	// Binding then fails 1.5 s after it starts. The fifth retry, 16 s
	// after the fifth loss, meets the server back.
	got := h.relayLosses(0)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("losses with RetryIn %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("losses with RetryIn %v, want %v", got, want)
		}
	}
	st, _ := h.nodes[0].RelayStats(relayAddr)
	if st.State.String() != "lost" || st.Losses != 5 || st.RetryAt.IsZero() {
		t.Fatalf("relay stats while waiting: %+v", st)
	}
	h.mustConnect() // the direct path carries on

	mark := len(h.events[0])
	h.relayDown = false
	h.runFor(40 * time.Second)
	st, _ = h.nodes[0].RelayStats(relayAddr)
	if st.State.String() != "allocated" || st.Losses != 0 || h.nodes[0].Stats().RelayRetries != 5 {
		t.Fatalf("relay stats after the server came back: %+v, node %+v", st, h.nodes[0].Stats())
	}
	gathered := false
	for _, e := range h.eventsAfter(0, mark) {
		gathered = gathered || strings.Contains(e, "candidate-gathered") && strings.Contains(e, "typ relay")
	}
	if !gathered {
		t.Fatalf("the connection did not get the relay candidate back: %q", h.eventsAfter(0, mark))
	}
}

// With RelayRetry negative a lost relay is removed, as the application
// asked: it adds relays itself.
func TestANegativeRelayRetryRemovesALostRelayForGood(t *testing.T) {
	h := newPairHarness(t, 41, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
		n.cfg.RelayRetry = -1
	}
	h.withRelay()
	h.quiet = true
	h.relayDown = true
	h.runFor(30 * time.Second)
	if got := h.relayLosses(0); len(got) != 1 || got[0] != 0 {
		t.Fatalf("losses with RetryIn %v, want one with none", got)
	}
	if rs := h.nodes[0].Relays(); len(rs) != 0 {
		t.Fatalf("relays %v after the loss", rs)
	}
}

// While the relay waits to retry, RemoveRelay forgets it at once and
// AddRelay replaces it.
func TestALostRelayWaitingToRetryCanBeRemovedOrAddedAgain(t *testing.T) {
	h := newPairHarness(t, 42, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.withRelay()
	h.quiet = true
	h.relayDown = true
	// The first Binding fails at 1.5 s; the retry waits until 2.5 s.
	h.runFor(2 * time.Second)
	if got := h.relayLosses(0); len(got) != 1 {
		t.Fatalf("losses %v", got)
	}
	n := h.nodes[0]
	if err := n.AddRelay(h.now, relayAddr, h.addrs[0], relayUser, relayPassword); err != nil {
		t.Fatalf("AddRelay while the relay waits: %v", err)
	}
	if err := n.AddRelay(h.now, relayAddr, h.addrs[0], relayUser, relayPassword); err != ErrRelayExists {
		t.Fatalf("AddRelay of a live relay: %v", err)
	}
	h.runFor(7 * time.Second)
	if err := n.RemoveRelay(h.now, relayAddr); err != nil {
		t.Fatal(err)
	}
	if rs := n.Relays(); len(rs) != 0 {
		t.Fatalf("relays %v after RemoveRelay of a lost one", rs)
	}
}

// Refused credentials are retried like any other loss, until RemoveRelay:
// an operator who fixes the password gets the relay back without the
// application doing anything.
func TestARelayLostToRefusedCredentialsIsRetriedUntilTheyWork(t *testing.T) {
	h := newPairHarness(t, 43, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.relayTweak = func(c *turnserver.Config) {
		c.Users = []turnserver.Credential{{Username: relayUser, Password: "not-" + relayPassword}}
	}
	h.withRelay()
	h.quiet = true
	h.runFor(20 * time.Second)
	var reasons []turn.LostReason
	for _, e := range h.events[0] {
		if l, ok := e.(RelayFailed); ok {
			reasons = append(reasons, l.Reason)
			if l.RetryIn == 0 {
				t.Fatalf("a loss to %v not retried: %+v", l.Reason, l)
			}
		}
	}
	if len(reasons) < 2 || reasons[0] != turn.LostAuth || reasons[len(reasons)-1] != turn.LostAuth {
		t.Fatalf("losses %v, want several LostAuth", reasons)
	}
	h.restartRelay() // the operator fixed the password
	h.runFor(70 * time.Second)
	if st, _ := h.nodes[0].RelayStats(relayAddr); st.State != turn.StateAllocated {
		t.Fatalf("relay %+v after the credentials were fixed, want allocated", st)
	}
}

// RelayRetryMax caps every wait, the first one included.
func TestARelayRetryAboveRelayRetryMaxIsCapped(t *testing.T) {
	n := &Node{cfg: Config{RelayRetry: 90 * time.Second, RelayRetryMax: time.Minute}}
	for losses := range 3 {
		if got := n.retryWait(&relay{losses: losses}); got != time.Minute {
			t.Fatalf("wait after %d losses %v, want RelayRetryMax", losses, got)
		}
	}
}
