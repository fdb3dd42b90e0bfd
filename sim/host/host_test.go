package host_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/signal"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
)

// duo is two public hosts with a session between them.
type duo struct {
	w      *world.World
	a, b   *host.Host
	s      *host.Session
	events []string
	got    int
	delays []time.Duration
}

func newDuo(t *testing.T, seed uint64, link netmodel.LinkConfig) *duo {
	t.Helper()
	d := &duo{w: world.New(world.Config{Seed: seed})}
	n := netmodel.New(d.w)
	hc := netmodel.HostConfig{Up: link, Down: link}
	var hosts [2]*host.Host
	for i, addr := range []string{"198.51.100.1", "203.0.113.1"} {
		nh, err := n.AddHost([]string{"a", "b"}[i], netip.MustParseAddr(addr), hc)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i], err = host.New(d.w, nh, host.Config{
			OnControl: func(s host.ControlSample) { d.delays = append(d.delays, s.Delay()) },
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d.a, d.b = hosts[0], hosts[1]
	d.b.OnData(func(time.Time, node.ConnID, []byte) { d.got++ })
	d.s = host.Connect(d.w, signal.New(d.w, signal.Config{}), d.a, d.b, host.SessionConfig{ID: 1})
	d.s.OnChange(func(now time.Time, side int, e node.Event) {
		d.events = append(d.events, now.Sub(world.Epoch).String()+" "+[]string{"a", "b"}[side]+" "+e.String())
	})
	return d
}

func TestTwoHostsConnectOverSignallingAndCarryData(t *testing.T) {
	d := newDuo(t, 1, netmodel.LinkConfig{Latency: 10 * time.Millisecond})
	d.w.RunFor(2 * time.Second)
	if !d.s.Up(0) || !d.s.Up(1) {
		t.Fatalf("not connected after 2 s: %v", d.events)
	}
	for i := 0; i < 100; i++ {
		if err := d.a.Send(1, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	d.w.RunFor(time.Minute)
	if d.got != 100 {
		t.Fatalf("b received %d of 100", d.got)
	}
	if len(d.delays) == 0 || d.a.Stats().ControlOnWire == 0 {
		t.Fatal("no Control datagram was timed")
	}
	for _, x := range d.delays {
		if x != 0 {
			t.Fatalf("on an infinitely fast idle link a Control datagram waited %v", x)
		}
	}
}

func TestTheSameSeedGivesTheSameTraceAndEvents(t *testing.T) {
	run := func() (uint64, []string) {
		d := newDuo(t, 5, netmodel.LinkConfig{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, LossRate: 0.05})
		d.w.RunFor(5 * time.Minute)
		return d.w.Trace().Sum(), d.events
	}
	h1, e1 := run()
	h2, e2 := run()
	if h1 != h2 || len(e1) != len(e2) || len(e1) == 0 {
		t.Fatalf("%016x %v\n%016x %v", h1, e1, h2, e2)
	}
}

func TestACutPathIsReportedFailedWithinTheIdleProbeTimeout(t *testing.T) {
	d := newDuo(t, 2, netmodel.LinkConfig{Latency: 10 * time.Millisecond})
	var failed []time.Duration
	d.s.OnChange(func(now time.Time, side int, e node.Event) {
		if f, ok := e.(node.Failed); ok && f.Reason == node.ProbeTimeout {
			failed = append(failed, now.Sub(world.Epoch))
		}
	})
	d.w.RunFor(10 * time.Second)
	cut := d.w.Elapsed()
	d.b.Net().CutDuring(d.w.Now(), time.Time{})
	d.w.RunFor(2 * time.Minute)
	// No data flowed, so both sides are on idle timing by the time their
	// active timeout would fire: the idle timeout (60 s) applies.
	if len(failed) != 2 {
		t.Fatalf("failures at %v, want one per side; events %v", failed, d.events)
	}
	for _, at := range failed {
		if at <= cut || at > cut+60*time.Second {
			t.Errorf("failed at %v, want within 60 s after the cut at %v", at, cut)
		}
	}
}
