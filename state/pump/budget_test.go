package pump

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// drainingConn plays a kernel whose queue drains at rate bytes per second
// on a clock the test moves; it takes everything it is given.
type drainingConn struct {
	fakeConn
	rate     float64
	queue    float64 // bytes unsent
	now      time.Time
	maxQueue float64
	taken    int // Data bytes taken
}

func (c *drainingConn) advance(to time.Time) {
	if d := to.Sub(c.now); d > 0 {
		c.queue = max(c.queue-c.rate*d.Seconds(), 0)
		c.now = to
	}
}

func (c *drainingConn) Send(batches []*gso.Batch) (int, error) {
	n := 0
	for _, b := range batches {
		n += b.Segments()
		c.queue += float64(len(b.Payload()))
		if b.Class() == gso.Data {
			c.taken += len(b.Payload())
		}
	}
	c.maxQueue = max(c.maxQueue, c.queue)
	return n, nil
}

func (c *drainingConn) UnsentBytes() (int, error) { return int(c.queue), nil }

// runSaturated keeps the pump's queue full of Data and drives it the way
// the drivers' loop does, on simulated time, for d. It returns the Data
// bytes the kernel took after the first quarter (the estimate's warm-up).
func runSaturated(t *testing.T, p *Pump, c *drainingConn, d time.Duration) int {
	t.Helper()
	now, end := t0, t0.Add(d)
	c.now = now
	takenAtWarm := -1
	for now.Before(end) {
		for p.Queue().HeldBytes(gso.Data) < 256<<10 {
			enqueue(t, p, gso.Data, 1)
		}
		if _, err := p.Flush(now); err != nil {
			t.Fatal(err)
		}
		at, reason, ok := p.PollTimeout()
		switch {
		case ok && reason == "pump: kernel-budget":
			now = at
		case p.Queue().Empty():
			// Everything went to the kernel: the program refills a
			// little later.
			now = now.Add(100 * time.Microsecond)
		default:
			t.Fatalf("Data queued but no wake-up armed: %v %s %v", at, reason, ok)
		}
		c.advance(now)
		p.HandleTimeout(now)
		if takenAtWarm < 0 && now.Sub(t0) >= d/4 {
			takenAtWarm = c.taken
		}
	}
	return c.taken - takenAtWarm
}

// On a fast link the budget grows with the measured rate, so it costs no
// throughput; on a slow one it stays at its floor, so a probe waits behind
// little. Both on simulated time: the assertions are about bytes, not the
// machine's speed.
func TestTheBudgetFollowsTheDrainRateWithinTheTargetDelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64 // bytes per second
	}{
		{"1 Gbit/s", 125e6},
		{"20 Mbit/s", 2.5e6},
		{"1 Mbit/s", 125e3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &drainingConn{fakeConn: fakeConn{room: 1 << 30}, rate: tc.rate}
			p := newTestPump(t, &c.fakeConn, DefaultConfig().KernelDataBudget)
			p.conn = c
			p.fl.measure = true
			const d = 2 * time.Second
			took := runSaturated(t, p, c, d)
			want := tc.rate * (d - d/4).Seconds()
			if float64(took) < 0.9*want {
				t.Errorf("the kernel took %d bytes in the measured window, the link drains %.0f: the budget left it idle", took, want)
			}
			limit := max(DefaultConfig().KernelDataBudget, int(tc.rate*DefaultConfig().KernelTargetDelay.Seconds()))
			// The estimate may run one datagram's worth per sample ahead,
			// and a round's last segment crosses the limit.
			if allowed := float64(limit) + 2*1000 + tc.rate*minSample.Seconds(); c.maxQueue > allowed*1.25 {
				t.Errorf("the kernel held up to %.0f bytes, budget %d (rate %.0f B/s)", c.maxQueue, limit, tc.rate)
			}
			if got := p.Stats().KernelDrainRate; float64(got) < 0.8*tc.rate || float64(got) > 1.2*tc.rate {
				t.Errorf("estimated %d B/s, link %.0f", got, tc.rate)
			}
		})
	}
}

// A kernel that drains as fast as it is fed (loopback, a veth) is found
// empty after every round: the flush goes on without waiting for a timer.
func TestAnEmptyKernelQueueIsRefilledAtOnce(t *testing.T) {
	c := &fakeConn{room: 1 << 20}
	p := newTestPump(t, c, DefaultConfig().KernelDataBudget)
	enqueue(t, p, gso.Data, 200) // 200 kB, many times the budget
	res, err := p.Flush(t0)
	if err != nil || res.DataHeld || res.Datagrams != 200 || !p.Queue().Empty() {
		t.Fatalf("flush into an always-empty kernel queue: %+v %v", res, err)
	}
}

// While the rate is unknown, the wait of held Data starts at BudgetRecheck
// and doubles up to BudgetRecheckMax; a kernel that never drains gives no
// rate.
func TestTheRecheckWaitDoublesWhileNoRateIsKnown(t *testing.T) {
	c := &fakeConn{room: 1 << 20, unsent: 64 << 10}
	p := newTestPump(t, c, 32<<10)
	enqueue(t, p, gso.Data, 10)
	now := t0
	var waits []time.Duration
	for range 9 {
		res, err := p.Flush(now)
		if err != nil || !res.DataHeld {
			t.Fatalf("%+v %v", res, err)
		}
		at, reason, ok := p.PollTimeout()
		if !ok || reason != "pump: kernel-budget" {
			t.Fatalf("no recheck armed: %v %s %v", at, reason, ok)
		}
		waits = append(waits, at.Sub(now))
		now = at
		p.HandleTimeout(now)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 64, 64}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", waits, want)
		}
	}
}

// measuredPump returns a pump over a conn whose kernel drained rate bytes
// per second in a first measured interval, so the delay bound is known.
func measuredPump(t *testing.T, rate float64, cfg Config) (*Pump, *drainingConn, node.ConnID) {
	t.Helper()
	c := &drainingConn{fakeConn: fakeConn{room: 1 << 30}, rate: rate, now: t0}
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	cfg.KernelDataBudget = DefaultConfig().KernelDataBudget
	p := New(n, c, cfg)
	p.fl.budget.observe(t0, 0)
	p.fl.budget.handedOff(int(rate / 100))
	p.fl.budget.observe(t0.Add(10*time.Millisecond), 0)
	if p.fl.budget.rate != rate {
		t.Fatalf("rate %v, want %v", p.fl.budget.rate, rate)
	}
	return p, c, 0
}

// The queue's Data is bounded by its drain time: under BackPressure the
// payload past the bound is refused (and not queued, so nothing queued is
// lost), and DataWritable turns true again only at half the bound.
func TestQueuedDataIsBoundedByItsDrainTime(t *testing.T) {
	const rate = 1e6 // bytes per second: the 25 ms bound is 25 kB
	p, _, _ := measuredPump(t, rate, Config{})
	bound := p.dataBound()
	if bound != 25_000 {
		t.Fatalf("bound %d, want 25000", bound)
	}
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatalf("%d bytes queued and still admitted, bound %d", p.Queue().QueuedBytes(gso.Data), bound)
		}
		if !p.admitData(1000) {
			if q := p.Queue().QueuedBytes(gso.Data); q+1000 <= bound || i != 25 {
				t.Fatalf("refused after %d datagrams with %d bytes queued, bound %d", i, q, bound)
			}
			break
		}
		enqueue(t, p, gso.Data, 1)
	}
	if p.DataWritable() {
		t.Fatal("writable at the bound")
	}
	if _, err := p.Flush(t0.Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if !p.DataWritable() {
		t.Fatal("not writable after the queue drained")
	}
}

// Under DropHead the oldest Data makes room, counted; Control stays.
func TestDropHeadDropsTheOldestDataAndCountsIt(t *testing.T) {
	p, _, _ := measuredPump(t, 1e6, Config{Overflow: DropHead})
	enqueue(t, p, gso.Control, 1)
	for range 40 {
		if !p.admitData(1000) {
			t.Fatal("DropHead refused")
		}
		enqueue(t, p, gso.Data, 1)
	}
	q := p.Queue()
	if got := q.QueuedBytes(gso.Data); got > p.dataBound() {
		t.Fatalf("%d bytes queued past the bound %d", got, p.dataBound())
	}
	s := q.Stats()
	if s.Classes[gso.Data].HeadDropped == 0 || p.Stats().DataHeadDropped != s.Classes[gso.Data].HeadDropped {
		t.Fatalf("head drops not counted: pump %d queue %d", p.Stats().DataHeadDropped, s.Classes[gso.Data].HeadDropped)
	}
	if got := s.Classes[gso.Data].DatagramsIn - s.Classes[gso.Data].HeadDropped; got != uint64(q.QueuedBytes(gso.Data)/1000) {
		t.Fatalf("accounting: %d in less dropped, %d queued", got, q.QueuedBytes(gso.Data)/1000)
	}
	if q.QueuedBytes(gso.Control) != 1000 {
		t.Fatal("Control was dropped")
	}
}
