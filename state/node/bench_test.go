package node

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

func BenchmarkSendOnAConnectedConnection(b *testing.B) {
	h := newPairHarness(b, 1, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(time.Second)
	n := h.nodes[0]
	payload := make([]byte, 1200)
	now := h.now
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if err := n.Send(now, connID, payload); err != nil {
			b.Fatal(err)
		}
		if _, ok := n.PollTransmit(); !ok {
			b.Fatal("no transmit")
		}
	}
}

// BenchmarkHandleTimeoutWith10000Connections measures one HandleTimeout at
// the next deadline plus the PollTimeout that follows, with 10,000
// connected connections whose probes are spread over time.
func BenchmarkHandleTimeoutWith10000Connections(b *testing.B) {
	const conns = 10000
	// Long timeouts: the peer is detached during the measurement and
	// nothing may fail while probes go unanswered.
	cfg := ice.Config{ProbeTimeout: 10000 * time.Hour, IdleProbeTimeout: 20000 * time.Hour, IdleAfter: 5000 * time.Hour}
	h := newPairHarness(b, 1, cfg)
	h.quiet = true
	rng := rand.New(rand.NewPCG(5, 5))
	for id := ConnID(1); id <= conns; id++ {
		ca, cb := ice.NewCredentials(rng), ice.NewCredentials(rng)
		if _, err := h.nodes[0].Connect(h.now, id, Controlling, ca, cb); err != nil {
			b.Fatal(err)
		}
		if _, err := h.nodes[1].Connect(h.now, id, Controlled, cb, ca); err != nil {
			b.Fatal(err)
		}
		h.drain() // signal the candidates
		// Stagger connection starts so that probes spread over time.
		h.runFor(time.Millisecond)
	}
	h.runFor(2 * time.Second)
	n := h.nodes[0]
	for id := ConnID(1); id <= conns; id++ {
		if _, ok := n.Path(id); !ok {
			b.Fatalf("conn %d not connected", id)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	probes := 0
	for range b.N {
		d, _, ok := n.PollTimeout()
		if !ok {
			b.Fatal("no deadline")
		}
		n.HandleTimeout(d)
		for {
			if _, ok := n.PollTransmit(); !ok {
				break
			}
			probes++
		}
	}
	// Connections share deadlines, so one HandleTimeout may probe several.
	b.ReportMetric(float64(probes)/float64(b.N), "probes/op")
}

// BenchmarkSendOnARelayedPath: b's path leaves through its own relay with a
// bound channel, so every Send is wrapped in ChannelData by the relay's
// client into the Node's reused frame arena.
func BenchmarkSendOnARelayedPath(b *testing.B) {
	h := newRelayPair(b, 10)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	n := h.nodes[1]
	if p, _ := n.Path(connID); !p.ThroughOurRelay() || !n.relays[0].client.HasChannel(p.Dst()) {
		b.Fatalf("path %v is not through b's relay with a channel", p)
	}
	payload := make([]byte, 1200)
	now := h.now
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if err := n.Send(now, connID, payload); err != nil {
			b.Fatal(err)
		}
		if _, ok := n.PollTransmit(); !ok {
			b.Fatal("no transmit")
		}
	}
}
