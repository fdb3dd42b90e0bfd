package node

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/ice"
)

// An operator shortened permissions to 60 s and channels to 90 s (coturn
// --permission-lifetime 60 --channel-lifetime 90); the clients refresh at
// RFC 8656's 240 s and 300 s and cannot know better. Each time the
// server drops a permission or channel the path through it goes silent,
// and the node asks for both again beside its verification: the
// connection never fails, no side goes a probe timeout without data, and
// after two such silences the client refreshes often enough.
func TestARelayedConnectionOutlivesAServerWithShortPermissionAndChannelLifetimes(t *testing.T) {
	h := newPairHarness(t, 30, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.blockDirect = true
	h.relayTweak = func(c *turnserver.Config) {
		c.PermissionLifetime, c.ChannelLifetime = 60*time.Second, 90*time.Second
	}
	h.withRelay()
	h.drain()
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()

	// A datagram each way every 100 ms for 400 s: five permission
	// lifetimes, four channel lifetimes.
	var last [2]time.Time
	var had [2]int
	var gap [2]time.Duration
	for i := range h.nodes {
		last[i], had[i] = h.now, h.received[i]
	}
	for end := h.now.Add(400 * time.Second); h.now.Before(end); {
		h.send(0, 1, 100)
		h.send(1, 1, 100)
		h.runFor(100 * time.Millisecond)
		for i := range h.nodes {
			if h.received[i] > had[i] {
				had[i], last[i] = h.received[i], h.now
			}
			gap[i] = max(gap[i], h.now.Sub(last[i]))
		}
	}
	for i, n := range h.nodes {
		for _, e := range h.events[i] {
			if strings.Contains(e.String(), " failed ") {
				t.Fatalf("%s: %v\n%s", names[i], e, strings.Join(h.log, "\n"))
			}
		}
		st, _ := n.RelayStats(relayAddr)
		t.Logf("%s: longest delivery gap %v, reinstalls %d, verifications %d, reallocations %d",
			names[i], gap[i], st.Client.Reinstalls, st.Client.Verifications, st.Client.Reallocations)
		if gap[i] >= n.cfg.ICE.ProbeTimeout/2 {
			t.Errorf("%s went %v without data, want well under the probe timeout %v", names[i], gap[i], n.cfg.ICE.ProbeTimeout)
		}
		// Two silences at like ages teach the client the lifetimes
		// (turn's reinstall.go): no third.
		if st.Client.Reinstalls > 2 {
			t.Errorf("%s: %d reinstalls, want at most 2: the short lifetimes were not learned", names[i], st.Client.Reinstalls)
		}
		if st.Client.Reallocations != 0 {
			t.Errorf("%s: %d reallocations: the allocation itself was fine", names[i], st.Client.Reallocations)
		}
	}
}
