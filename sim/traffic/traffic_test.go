package traffic_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
)

// rig is a sender and a receiver host; the receiver observes every stamp.
type rig struct {
	w        *world.World
	from, to *netmodel.Socket
	recv     traffic.Receiver
}

func newRig(t *testing.T, up netmodel.LinkConfig) *rig {
	t.Helper()
	w := world.New(world.Config{Seed: 42})
	n := netmodel.New(w)
	a, _ := n.AddHost("a", netip.MustParseAddr("198.51.100.1"), netmodel.HostConfig{Up: up})
	b, _ := n.AddHost("b", netip.MustParseAddr("203.0.113.1"), netmodel.HostConfig{})
	r := &rig{w: w}
	r.from, _ = a.Bind(1000, netmodel.SocketConfig{})
	r.to, _ = b.Bind(2000, netmodel.SocketConfig{})
	r.to.SetNotify(func(now time.Time, ev netmodel.SocketEvent) {
		for p, ok := r.to.ReadFrom(); ok; p, ok = r.to.ReadFrom() {
			r.recv.Observe(now, p.Payload)
		}
	})
	return r
}

func (r *rig) send(_ time.Time, b []byte) error { return r.from.WriteTo(b, r.to.LocalAddr()) }

func TestAConstantRateSenderSendsOnScheduleAndEveryStampArrives(t *testing.T) {
	r := newRig(t, netmodel.LinkConfig{Latency: 15 * time.Millisecond})
	g := traffic.Constant(r.w, world.Epoch, 10*time.Millisecond, 200, 100, r.send)
	r.w.RunUntilIdle(10000)
	if g.Stats().Sent != 100 || r.recv.Received != 100 || r.recv.Late != 0 {
		t.Fatalf("sent %d received %d late %d", g.Stats().Sent, r.recv.Received, r.recv.Late)
	}
	if r.recv.MeanDelay() != 15*time.Millisecond || r.w.Elapsed() != 99*10*time.Millisecond+15*time.Millisecond {
		t.Fatalf("mean delay %v, ended at %v", r.recv.MeanDelay(), r.w.Elapsed())
	}
}

func TestABurstSenderSendsWholeBurstsAtEachInterval(t *testing.T) {
	r := newRig(t, netmodel.LinkConfig{})
	g := traffic.Bursts(r.w, world.Epoch, 100*time.Millisecond, 5, 100, 3, r.send)
	r.w.RunUntil(world.Epoch.Add(150 * time.Millisecond))
	if g.Stats().Sent != 10 {
		t.Fatalf("sent %d by 150ms, want two bursts of 5", g.Stats().Sent)
	}
	r.w.RunUntilIdle(1000)
	if g.Stats().Sent != 15 || r.recv.Received != 15 {
		t.Fatalf("sent %d received %d, want 15", g.Stats().Sent, r.recv.Received)
	}
}

func TestASaturatingSenderFillsTheLinkAndWaitsForWritable(t *testing.T) {
	// 1222 bytes + 28 of headers = 10000 bits: 100 datagrams a second.
	r := newRig(t, netmodel.LinkConfig{RateBitsPerSecond: 1_000_000})
	g := traffic.Saturating(r.w, world.Epoch, 1222, 0, r.send)
	r.from.SetNotify(func(now time.Time, ev netmodel.SocketEvent) {
		if ev == netmodel.Writable {
			g.Writable(now)
		}
	})
	r.w.RunUntil(world.Epoch.Add(10 * time.Second))
	g.Stop()
	if r.recv.Received < 999 || r.recv.Received > 1000 {
		t.Fatalf("received %d in 10 s, want the link's 1000", r.recv.Received)
	}
	if g.Stats().Refused == 0 || g.Stats().Refused != r.from.Stats().WouldBlock {
		t.Fatalf("refused %d, socket pushed back %d times", g.Stats().Refused, r.from.Stats().WouldBlock)
	}
	if used := r.from.Stats().MaxSendBufferUsed; used > netmodel.DefaultSendBufferBytes+1222 {
		t.Fatalf("send buffer reached %d", used)
	}
	if drops := r.w.Trace().Count(world.KindDrop, ""); drops != 0 {
		t.Fatalf("%d drops: a saturating sender that honours back-pressure loses nothing", drops)
	}
}

func TestASaturatingSenderThatIsNeverToldWritableStaysQuiet(t *testing.T) {
	r := newRig(t, netmodel.LinkConfig{RateBitsPerSecond: 1_000_000})
	g := traffic.Saturating(r.w, world.Epoch, 1222, 0, r.send)
	r.w.RunUntil(world.Epoch.Add(10 * time.Second))
	if g.Stats().Refused != 1 {
		t.Fatalf("refused %d times, want exactly once: it must wait, not spin", g.Stats().Refused)
	}
}

func TestASaturatingSenderYieldsAfterItsBoundWhenNothingPushesBack(t *testing.T) {
	w := world.New(world.Config{Seed: 1})
	sent := 0
	g := traffic.Saturating(w, world.Epoch, 100, 10, func(time.Time, []byte) error { sent++; return nil })
	w.After(0, "stop", func(time.Time) { g.Stop() })
	w.RunUntilIdle(100)
	if sent != 10 {
		t.Fatalf("sent %d before yielding, want the bound 10", sent)
	}
}

func TestStampAndParseRoundTrip(t *testing.T) {
	b := make([]byte, traffic.HeaderBytes)
	at := world.Epoch.Add(1234567 * time.Microsecond)
	traffic.Stamp(b, 99, at)
	seq, got, ok := traffic.Parse(b)
	if !ok || seq != 99 || !got.Equal(at) {
		t.Fatalf("parsed %d %v %v", seq, got, ok)
	}
	if _, _, ok := traffic.Parse(b[:15]); ok {
		t.Fatal("a short payload parsed")
	}
}
