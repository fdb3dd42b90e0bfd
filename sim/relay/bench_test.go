package relay_test

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
)

// BenchmarkIdleHour is one simulated hour of two peers behind NATs and a
// relay, exchanging only keepalives: it should take well under a second
// of wall time, so that hours of idle worlds stay cheap.
func BenchmarkIdleHour(b *testing.B) {
	for i := 0; i < b.N; i++ {
		idleHour(b)
	}
}

// BenchmarkSaturatedTenMinutes is a saturating sender behind a NAT on a
// 1 Mbit/s uplink for ten simulated minutes: the substrate's share of the
// default scenario.
func BenchmarkSaturatedTenMinutes(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sc := newScene(b, 9, false)
		sc.alice.Host().Up().SetConfig(netmodel.LinkConfig{Latency: 10 * time.Millisecond, RateBitsPerSecond: 1_000_000})
		// The relay host receives it all (and its server drops what is not
		// STUN), so the path crosses a NAT and two access links.
		dst := sc.relay.Addr()
		g := traffic.Saturating(sc.w, world.Epoch, 1200, 0, func(_ time.Time, p []byte) error { return sc.alice.WriteTo(p, dst) })
		sc.alice.SetNotify(func(now time.Time, ev netmodel.SocketEvent) {
			if ev == netmodel.Writable {
				g.Writable(now)
			}
		})
		sc.w.RunUntil(world.Epoch.Add(10 * time.Minute))
		b.ReportMetric(float64(sc.w.Fired()), "events/op")
		b.ReportMetric(float64(g.Stats().Sent), "datagrams/op")
	}
}
