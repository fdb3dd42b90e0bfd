package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
)

// The relay-restart story with both peers on TCP to the relay: the
// connection comes up through the relay over the modelled streams, and the
// restart, which also breaks the streams and loses what was in flight on
// them, is carried over as over UDP: no failure, a path change on each
// side, and data again within restartGapMax.
func TestARelayRestartUnderAConnectionOverTCPRelaysIsCarriedOver(t *testing.T) {
	sc, _ := Lookup("relay-tcp-restart")
	for _, seed := range []uint64{1, 2, 3} {
		spec := sc.Build(Options{Seed: seed})
		r, arrivals := runStreamWorld(t, spec)
		res := r.result()
		restart := spec.RelayRestartAt
		var changed [2]bool
		for _, c := range res.Timeline {
			if c.Failed {
				t.Fatalf("seed %d: %v; timeline %v", seed, c, res.Timeline)
			}
			if !strings.Contains(c.Event, "relay") {
				t.Fatalf("seed %d: side %d on a path without the relay: %v", seed, c.Side, c)
			}
			if c.At > restart && strings.Contains(c.Event, "path-changed") {
				changed[c.Side] = true
			}
		}
		if !changed[0] || !changed[1] {
			t.Fatalf("seed %d: path changed after the restart %v; timeline %v", seed, changed, res.Timeline)
		}
		var gap, last time.Duration
		n := 0
		for _, at := range arrivals {
			if at >= restart {
				n++
				gap = max(gap, at-last)
			}
			last = at
		}
		for i, st := range r.streams {
			s := st.Stats()
			if s.MessagesUp == 0 || s.MessagesDown == 0 || s.Resets != 1 || s.Corrupt != 0 {
				t.Fatalf("seed %d: stream %d %+v", seed, i, s)
			}
			if hs := r.hosts[i].Stats(); hs.StreamDropped != 0 {
				t.Fatalf("seed %d: host %d dropped %d stream transmits", seed, i, hs.StreamDropped)
			}
			if ps := r.hosts[i].Pump().Stats(); ps.StreamTransmits == 0 {
				t.Fatalf("seed %d: host %d sent nothing on its stream", seed, i)
			}
		}
		t.Logf("seed %d: gap %v after the restart over tcp, %d datagrams after it; streams a=%+v b=%+v", seed, gap, n,
			r.streams[0].Stats(), r.streams[1].Stats())
		if gap > restartGapMax || n == 0 {
			t.Fatalf("seed %d: gap %v, %d datagrams after the restart, want data again within %v", seed, gap, n, restartGapMax)
		}
	}
}

// runStreamWorld runs spec and returns the run (its streams and hosts
// inspectable) and when Bob's application received each datagram.
func runStreamWorld(t *testing.T, spec Spec) (*run, []time.Duration) {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	spec.Bucket = defaultBucket
	r := &run{spec: spec, w: world.New(world.Config{Seed: spec.Seed})}
	r.net = netmodel.New(r.w)
	r.rec = newRecorder(&r.spec)
	if err := r.build(); err != nil {
		t.Fatal(err)
	}
	var arrivals []time.Duration
	r.hosts[1].OnData(func(now time.Time, _ node.ConnID, _ []byte) { arrivals = append(arrivals, now.Sub(world.Epoch)) })
	r.w.RunUntil(world.Epoch.Add(spec.End))
	return r, arrivals
}

func TestARelayTransportNeedsARelay(t *testing.T) {
	sc, _ := Lookup("relay-only")
	spec := sc.Build(Options{Seed: 1})
	spec.Relay, spec.RelayTransport = false, node.TCP
	if err := spec.Validate(); err == nil {
		t.Fatal("a TCP relay without a relay validated")
	}
	spec.Relay, spec.RelayTransport = true, node.Transport(9)
	if err := spec.Validate(); err == nil {
		t.Fatal("transport 9 validated")
	}
}
