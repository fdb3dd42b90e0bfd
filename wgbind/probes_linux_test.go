package wgbind

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
)

// soakDuration is how long iperf3 saturates the tunnel: 10 s in make
// test, WG_SOAK (make wg-soak: 120s) for the full measurement.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if s := os.Getenv("WG_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("WG_SOAK=%q: %v", s, err)
		}
		return d
	}
	return 10 * time.Second
}

// probeRecord is what a saturated tunnel did to the connection's probes.
type probeRecord struct {
	rtts        []time.Duration // one per RTT sample seen, both sides
	lost, late  uint64
	sent        uint64
	failed      int
	retries     int64
	throughputs float64
	maxHeld     int
}

func (r probeRecord) quantile(q float64) time.Duration {
	if len(r.rtts) == 0 {
		return 0
	}
	s := slices.Clone(r.rtts)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// saturate limits a's uplink to 10 Mbit/s with tbf, runs iperf3 from a to
// b through the tunnel for d, and samples both sides' probe round trips
// meanwhile.
// unbounded turns off the pump's delay bound on queued Data and loads the
// tunnel with a UDP flood at three times the link instead of TCP: the
// Data queue fills to its byte limit (2 MiB of buffers, over 1.5 s at
// 10 Mbit/s), as behind a deep buffer on a slow uplink. That is the worst
// case for a probe behind it, and what shows the queue policy. (Eight TCP
// streams held the queue at about 1.4 MB, 1.1 s: their congestion control
// backs off as the queue's delay grows.)
func saturate(t *testing.T, policy gso.Policy, unbounded bool, d time.Duration) probeRecord {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{}
	cfg.Driver.Pump.Queue.Policy = policy
	if unbounded {
		cfg.Driver.Pump.DataQueueDelay = -1
	}
	tn := newTunnel(t, ctx, false, cfg)
	// The limit is far above any socket buffer: the qdisc never drops, so
	// a datagram in it stays charged to the socket, which is what the
	// driver's kernel budget measures.
	run(t, "tc", "-n", tn.tp.hostA, "qdisc", "add", "dev", tn.tp.hostDevA, "root", "tbf",
		"rate", "10mbit", "burst", "32kbit", "limit", "16mb")

	var mu sync.Mutex
	var rec probeRecord
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []*side{tn.a, tn.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seen uint64
			var last ice.Stats
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-sctx.Done():
					mu.Lock()
					rec.lost += last.ProbesLost
					rec.late += last.ProbesLate
					rec.sent += last.ProbesSent
					mu.Unlock()
					return
				case <-tick.C:
				}
				cs, err := s.d.ConnStats(sctx, tunnelConn)
				if err != nil {
					continue
				}
				last = cs.ICE
				if s == tn.a {
					if st, err := s.d.Stats(sctx); err == nil {
						mu.Lock()
						rec.maxHeld = max(rec.maxHeld, st.Queue.HeldBytes[1])
						mu.Unlock()
					}
				}
				if cs.ICE.RTTSamples > seen {
					seen = cs.ICE.RTTSamples
					mu.Lock()
					rec.rtts = append(rec.rtts, cs.ICE.LatestRTT)
					mu.Unlock()
				}
			}
		}()
	}
	// Samples before the load are not what this measures.
	mu.Lock()
	rec.rtts = nil
	mu.Unlock()
	before := tn.retries.Load()
	load := []string{"-P", "8"}
	if unbounded {
		// Datagrams that fit the tunnel's MTU, at 30 Mbit/s.
		load = []string{"-u", "-b", "30M", "-l", "1300"}
	}
	rec.throughputs = iperfTCP(t, tn.tp.hostA, tn.tp.hostB, wgAddrB, d, load...)
	stop()
	wg.Wait()
	for _, s := range []*side{tn.a, tn.b} {
		st, _ := s.d.Stats(ctx)
		t.Logf("%s: bind %+v\npump %+v\nqueue %+v", s.name, s.bind.Stats(), st.Pump, st.Queue)
	}
	rec.failed = len(tn.failures())
	rec.retries = tn.retries.Load() - before
	return rec
}

func TestProbesUnderASaturatedTunnel(t *testing.T) {
	d := soakDuration(t)
	probeLossAfter := ice.DefaultConfig().ProbeLossAfter
	report := func(name string, r probeRecord) {
		t.Logf("%s: %v at 10 Mbit/s, iperf3 %.2f Mbit/s; probe RTT p50 %v p99 %v max %v over %d samples; probes sent %d lost %d late %d; Failed %d; handshake retries %d; most Data queued %d bytes",
			name, d, r.throughputs/1e6, r.quantile(0.5).Round(time.Millisecond), r.quantile(0.99).Round(time.Millisecond),
			r.quantile(1).Round(time.Millisecond), len(r.rtts), r.sent, r.lost, r.late, r.failed, r.retries, r.maxHeld)
	}
	check := func(t *testing.T, r probeRecord) {
		t.Helper()
		if r.failed > 0 || r.retries > 0 || r.lost > 0 {
			t.Fatalf("a saturated tunnel starved its probes: %d Failed, %d handshake retries, %d probes lost", r.failed, r.retries, r.lost)
		}
		if len(r.rtts) == 0 {
			t.Fatal("no probe was answered during the load")
		}
		// A third of ProbeLossAfter: 50 times what the probes take here
		// (about 10 ms), and a quarter of what FIFO's take.
		if p99 := r.quantile(0.99); p99 > probeLossAfter/3 {
			t.Fatalf("probe p99 %v under load, past a third of ProbeLossAfter (%v): probes waited behind data", p99, probeLossAfter)
		}
	}
	// What a program gets by default: the ordered queue, and Data bounded
	// by its drain time.
	t.Run("control-first", func(t *testing.T) {
		r := saturate(t, gso.ControlFirst, false, d)
		report("control-first", r)
		check(t, r)
	})
	// The Data queue held full: probes still overtake it.
	var controlFirst probeRecord
	t.Run("control-first-unbounded", func(t *testing.T) {
		r := saturate(t, gso.ControlFirst, true, d)
		report("control-first-unbounded", r)
		check(t, r)
		controlFirst = r
	})
	// The same with probes queued behind the data: what the ordered queue
	// exists to prevent. A probe waits behind the whole Data queue, near
	// or past ProbeLossAfter.
	t.Run("fifo-unbounded", func(t *testing.T) {
		r := saturate(t, gso.FIFO, true, d)
		report("fifo-unbounded", r)
		t.Logf("fifo against control-first, both unbounded: probe p99 %.0fx, probes lost %d against %d, Failed %d against %d; p99 past ProbeLossAfter (%v): %v",
			float64(r.quantile(0.99))/float64(max(controlFirst.quantile(0.99), time.Millisecond)),
			r.lost, controlFirst.lost, r.failed, controlFirst.failed, probeLossAfter, r.quantile(0.99) > probeLossAfter)
		// What the control lane prevents must show here: probes that wait
		// past ProbeLossAfter behind the tunnel's own data (counted lost,
		// or a p99 past it), or a connection declared failed.
		if r.lost == 0 && r.failed == 0 && r.quantile(0.99) <= probeLossAfter {
			t.Fatalf("FIFO's probes stayed inside ProbeLossAfter (p99 %v): the comparison shows nothing", r.quantile(0.99))
		}
	})
}
