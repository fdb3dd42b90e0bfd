package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
)

// restartGapMax bounds the gap in delivery across a relay restart: the
// first probe after it is lost ProbeLossAfter after it left (at most two
// probe intervals after the restart, 3 s), the Refresh that verifies the
// allocation meets 438 then 437, the new allocation is signalled, checked
// and nominated in a few round trips. Half the probe timeout leaves room
// for one more step, and is far from the 15 s at which the connection
// would have failed.
var restartGapMax = ice.DefaultConfig().ProbeTimeout / 2

// runWithArrivals runs spec like Run and also returns when each side's
// application received each datagram.
func runWithArrivals(t *testing.T, spec Spec) (*Result, [2][]time.Duration) {
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
	var arrivals [2][]time.Duration
	for i, h := range r.hosts {
		h.OnData(func(now time.Time, _ node.ConnID, _ []byte) {
			arrivals[i] = append(arrivals[i], now.Sub(world.Epoch))
		})
	}
	r.w.RunUntil(world.Epoch.Add(spec.End))
	return r.result(), arrivals
}

// The TURN server restarts under a relay-only connection (symmetric NATs
// on both sides) and forgets every allocation. Its refreshes are minutes
// away; without the check of the allocation under a silent path the
// connection failed with ProbeTimeout 15 s later, or limped on through a
// failover to another dead pair.
func TestARelayRestartUnderARelayOnlyConnectionIsCarriedOverWithinSeconds(t *testing.T) {
	sc, _ := Lookup("relay-restart")
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		spec := sc.Build(Options{Seed: seed})
		res, arrivals := runWithArrivals(t, spec)
		restart := spec.RelayRestartAt
		var changed [2]bool
		for _, c := range res.Timeline {
			if c.Failed {
				t.Fatalf("seed %d: %v; timeline %v", seed, c, res.Timeline)
			}
			if c.At > restart && strings.Contains(c.Event, "path-changed") {
				changed[c.Side] = true
			}
		}
		if !changed[0] || !changed[1] {
			t.Fatalf("seed %d: path changed after the restart %v; timeline %v", seed, changed, res.Timeline)
		}
		// Alice sends; Bob receives. Datagrams already past the server
		// when it restarted still arrive after it: the outage is the
		// longest silence between two arrivals from the last one before
		// the restart on.
		var before, after, gap time.Duration
		n := 0
		for k, at := range arrivals[1] {
			if at < restart {
				continue
			}
			n++
			if k > 0 && at-arrivals[1][k-1] > gap {
				before, after, gap = arrivals[1][k-1], at, at-arrivals[1][k-1]
			}
		}
		t.Logf("seed %d: bob received nothing from %v to %v: gap %v; %d datagrams after the restart; timeline %v",
			seed, before, after, gap, n, res.Timeline)
		if after == 0 || gap > restartGapMax {
			t.Fatalf("seed %d: gap %v, want data again within %v", seed, gap, restartGapMax)
		}
		// The load goes on for the rest of the run: 50 datagrams a second.
		if want := int((spec.End - restart - restartGapMax) / (20 * time.Millisecond)); n < want {
			t.Fatalf("seed %d: %d datagrams after the restart, want at least %d", seed, n, want)
		}
	}
}

func TestARelayRestartNeedsARelay(t *testing.T) {
	sc, _ := Lookup("relay-only")
	spec := sc.Build(Options{Seed: 1})
	spec.Relay, spec.RelayRestartAt = false, time.Second
	if err := spec.Validate(); err == nil {
		t.Fatal("a relay restart without a relay validated")
	}
	spec.Relay, spec.RelayRestartAt = true, -time.Second
	if err := spec.Validate(); err == nil {
		t.Fatal("a negative RelayRestartAt validated")
	}
}
