package scenario

import (
	"slices"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
)

// dataDelays runs spec and returns the queueing delay of every Data payload
// bob received that was sent after warm: its one-way delay less the least
// one of the whole run (the first payloads, sent into empty queues), so
// the links' fixed latency drops out and what remains is time spent
// waiting in queues (the pump's, the socket's, the links'). arrived counts
// the payloads that arrived after warm, whenever sent: the goodput.
func dataDelays(t *testing.T, spec Spec, warm time.Duration) (delays []time.Duration, arrived int) {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	spec.Bucket = spec.End
	r := &run{spec: spec, w: world.New(world.Config{Seed: spec.Seed})}
	r.rec = newRecorder(&r.spec)
	var oneWay []time.Duration
	base := time.Duration(-1)
	r.net = netmodel.New(r.w)
	if err := r.build(); err != nil {
		t.Fatal(err)
	}
	r.hosts[1].OnData(func(now time.Time, _ node.ConnID, b []byte) {
		_, at, ok := traffic.Parse(b)
		if !ok {
			return
		}
		if d := now.Sub(at); base < 0 || d < base {
			base = d
		}
		if now.Sub(world.Epoch) >= warm {
			arrived++
		}
		if at.Sub(world.Epoch) >= warm {
			oneWay = append(oneWay, now.Sub(at))
		}
	})
	r.w.RunUntil(world.Epoch.Add(spec.End))
	if len(oneWay) == 0 {
		t.Fatal("no Data arrived")
	}
	for i := range oneWay {
		oneWay[i] -= base
	}
	slices.Sort(oneWay)
	return oneWay, arrived
}

func p99(d []time.Duration) time.Duration { return d[min(len(d)-1, len(d)*99/100)] }

// On the default scenario (a saturating sender behind a 1 Mbit/s uplink)
// the Data waits in the pump's queue for as long as the queue's bound
// allows. A 2 MiB byte bound alone is 16 s of it at that rate; the delay
// bound keeps it within a few hundred milliseconds (the bound, the kernel
// budget's floor and the link's queue), and the sender is pushed back
// instead: the goodput stays.
func TestTheDelayBoundKeepsDataFromWaitingSecondsInTheQueue(t *testing.T) {
	sc, _ := Lookup(DefaultName)
	const dur, warm = 60 * time.Second, 30 * time.Second
	before := sc.Build(Options{Seed: 1, Duration: dur})
	before.DataQueueDelay = -1
	after := sc.Build(Options{Seed: 1, Duration: dur})
	db, nb := dataDelays(t, before, warm)
	da, na := dataDelays(t, after, warm)
	t.Logf("default scenario, Data sent from %v to %v: queueing delay p99 without the delay bound %v, with it %v; payloads arrived %d and %d",
		warm, dur, p99(db), p99(da), nb, na)
	if p99(da) > p99(db)/10 || p99(da) > time.Second {
		t.Errorf("p99 Data queueing delay %v with the delay bound, %v without", p99(da), p99(db))
	}
	if na < nb*9/10 {
		t.Errorf("the delay bound cost goodput: %d payloads arrived, %d without it", na, nb)
	}
}
