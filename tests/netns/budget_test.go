//go:build linux

package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// The measurement's shape. The rate is slow enough that a socket buffer of
// Data takes tens of milliseconds to leave, and fast enough that a few
// seconds carry thousands of datagrams.
const (
	linkRate   = "20mbit"
	dataSize   = 1200
	probeEvery = 50 * time.Millisecond
	// warmup is left out of the figures: the first fill of an empty socket
	// buffer is not the steady state a long transfer lives in.
	warmup   = 500 * time.Millisecond
	duration = 3500 * time.Millisecond
	// tail keeps the link saturated after the last probe, so that the last
	// probes wait behind the same backlog as the others and none is left
	// in a queue that stopped moving.
	tail = 500 * time.Millisecond
	// drainWait bounds the wait for the last probes once sending stops.
	drainWait = 3 * time.Second
)

// First bytes that tell the receiver what arrived. Both lie outside 0-3
// (STUN) and 64-79 (channel data), though no node reads them here.
const (
	kindData  = 0xd0
	kindProbe = 0xf0
)

func TestTheKernelBudgetKeepsProbesFromWaitingBehindBulkData(t *testing.T) {
	requireNetns(t)
	// Each run gets its own namespaces, so the backlog one leaves in the
	// qdisc cannot delay the other's first probes.
	off := measureProbes(t, 0)
	on := measureProbes(t, pump.DefaultConfig().KernelDataBudget)
	t.Log(off.line("budget off"))
	t.Logf("%s (budget %d bytes)", on.line("budget on"), pump.DefaultConfig().KernelDataBudget)

	// Without the budget the kernel must have held far more than the
	// budget, or the qdisc backlog was not counted by SIOCOUTQ and the
	// comparison below would measure nothing.
	if off.maxUnsent < 4*pump.DefaultConfig().KernelDataBudget {
		t.Fatalf("without a budget the kernel never held more than %d unsent bytes; "+
			"the qdisc backlog is not charged to the socket, so the budget cannot see it", off.maxUnsent)
	}
	if on.pump.DataHeld == 0 {
		t.Errorf("the budget never held Data back: %+v", on.pump)
	}
	for _, r := range []*runResult{off, on} {
		if r.lost > 0 || len(r.delays) < 20 {
			t.Errorf("%s: %d probes measured, %d lost; the link or the loop misbehaved", r.name, len(r.delays), r.lost)
		}
	}
	if len(off.delays) == 0 || len(on.delays) == 0 {
		return
	}
	// Only wide margins: the machine may be shared and small, so timings
	// jitter by milliseconds; the budget is meant to change them by a
	// multiple. With about 60 probes a run, p99 is the worst probe.
	if on.p99() >= off.p99()/3 {
		t.Errorf("p99 probe delay with the budget %.1f ms, without %.1f ms: want less than a third "+
			"(the kernel held up to %d KiB unsent with a budget of %d KiB)",
			ms(on.p99()), ms(off.p99()), on.maxUnsent>>10, pump.DefaultConfig().KernelDataBudget>>10)
	}
	if on.mbit() < 0.7*off.mbit() {
		t.Errorf("Data throughput with the budget %.2f Mbit/s, without %.2f: want at least 70%%", on.mbit(), off.mbit())
	}

	// On a link as fast as the host, the kernel drains as fast as it is
	// fed: the budget must cost nothing there. Interleaved, best of three
	// each, as the machine may be shared.
	var fastOn, fastOff float64
	for range 3 {
		fastOff = max(fastOff, measureThroughput(t, 0))
		fastOn = max(fastOn, measureThroughput(t, pump.DefaultConfig().KernelDataBudget))
	}
	// The figures to compare: Data Mbit/s the sender's kernel took
	// on an unlimited veth with the budget on and off, and the p99 probe
	// delay under the budget on the 20 Mbit/s link.
	t.Logf("budget veth=unlimited on=%.0f off=%.0f ratio=%.2f tbf20_probe_p99_ms=%.1f",
		fastOn, fastOff, fastOn/fastOff, ms(on.p99()))
	if fastOn < 0.7*fastOff {
		t.Errorf("on an unlimited veth the budget cut throughput to %.0f Mbit/s from %.0f", fastOn, fastOff)
	}
}

// measureThroughput saturates an unlimited veth from a pump with the given
// kernel budget (0: none) for fastRun and returns the Data Mbit/s the
// sender's kernel took. The sender's side is what the budget can slow; the
// receiver, a plain socket read per datagram, falls behind a fast sender
// and would measure itself.
func measureThroughput(t *testing.T, budget int) float64 {
	const fastRun = time.Second
	l := newLink(t)
	txSock := listenUDP(t, l.Tx, netip.AddrPortFrom(l.TxAddr, 0))
	rxSock := listenUDP(t, l.Rx, netip.AddrPortFrom(l.RxAddr, 0))
	conn, err := linux.New(txSock, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := pump.New(n, conn, pump.Config{KernelDataBudget: budget})
	epoch := time.Now()
	rec := newReceiver(rxSock, epoch)
	s := &sender{p: p, conn: conn, dst: rxSock.LocalAddr().(*net.UDPAddr).AddrPort(), epoch: epoch}
	if err := s.run(fastRun, fastRun); err != nil {
		t.Fatalf("sender: %v", err)
	}
	elapsed := time.Since(epoch)
	rxSock.Close()
	rec.wg.Wait()
	st := p.Queue().Stats().Classes[gso.Data]
	return float64(st.BytesOut) * 8 / elapsed.Seconds() / 1e6
}

// runResult is what one run measured.
type runResult struct {
	name      string
	delays    []time.Duration // one-way delay of each probe sent after warmup, sorted
	lost      int             // probes sent after warmup that never arrived
	dataBytes int             // Data payload received during the window
	window    time.Duration   // from warmup to the end of sending
	maxUnsent int             // the most unsent bytes SIOCOUTQ reported
	pump      pump.Stats
}

func (r *runResult) quantile(q float64) time.Duration {
	if len(r.delays) == 0 {
		return 0
	}
	i := min(len(r.delays)-1, int(q*float64(len(r.delays))))
	return r.delays[i]
}

func (r *runResult) p99() time.Duration { return r.quantile(0.99) }

func (r *runResult) mbit() float64 {
	return float64(r.dataBytes) * 8 / r.window.Seconds() / 1e6
}

func (r *runResult) line(label string) string {
	return fmt.Sprintf("%s: probe_p50_ms=%.1f p99=%.1f max=%.1f data_mbit=%.2f probes=%d lost=%d max_unsent_kib=%d held_flushes_per_s=%.0f drain_rate_kBps=%d limit_bytes=%d",
		label, ms(r.quantile(0.5)), ms(r.p99()), ms(r.quantile(1)), r.mbit(),
		len(r.delays), r.lost, r.maxUnsent>>10, float64(r.pump.DataHeld)/r.window.Seconds(),
		r.pump.KernelDrainRate/1000, r.pump.KernelDataLimit)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measureProbes builds a rate-limited link, saturates it from a pump with
// the given kernel budget (0: none) while sending a probe every probeEvery,
// and returns what the receiver saw.
func measureProbes(t *testing.T, budget int) *runResult {
	l := newLink(t)
	l.limitTx(t, linkRate)
	txSock := listenUDP(t, l.Tx, netip.AddrPortFrom(l.TxAddr, 0))
	rxSock := listenUDP(t, l.Rx, netip.AddrPortFrom(l.RxAddr, 0))
	// The receiver must never be the bottleneck: a drop there would look
	// like a lost probe.
	forceBuffer(t, rxSock, unix.SO_RCVBUFFORCE, 8<<20)
	conn, err := linux.New(txSock, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := pump.New(n, conn, pump.Config{KernelDataBudget: budget})

	// One clock for both ends: the namespaces share the kernel, and both
	// ends live in this process, so the monotonic time since epoch means
	// the same on either side.
	epoch := time.Now()
	rec := newReceiver(rxSock, epoch)
	s := &sender{p: p, conn: conn, dst: rxSock.LocalAddr().(*net.UDPAddr).AddrPort(), epoch: epoch}
	if err := s.run(duration, duration+tail); err != nil {
		t.Fatalf("sender: %v", err)
	}
	first := s.firstProbeAfter(warmup)
	rec.waitFor(s.probes, drainWait)
	rxSock.Close()
	rec.wg.Wait()

	r := &runResult{
		name:      fmt.Sprintf("budget %d", budget),
		window:    duration - warmup,
		maxUnsent: s.maxUnsent,
		pump:      p.Stats(),
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for seq := first; seq < s.probes; seq++ {
		if d, ok := rec.delays[seq]; ok {
			r.delays = append(r.delays, d)
		} else {
			r.lost++
		}
	}
	slices.Sort(r.delays)
	r.dataBytes = rec.windowBytes(warmup, duration)
	return r
}

// sender drives a pump the way the drivers' real-time loop does: flush
// until the socket would block, then wait for writability; flush again at
// PollTimeout when the budget held Data back. A saturating application
// refills the queue at every turn until it refuses Data, and a probe joins
// the Control lane every probeEvery.
type sender struct {
	p     *pump.Pump
	conn  *linux.Conn
	dst   netip.AddrPort
	epoch time.Time

	probes     uint64          // probes enqueued
	probeTimes []time.Duration // when each was enqueued, since epoch
	maxUnsent  int
}

// run sends probes until probesUntil and Data until stopAt, both since
// epoch.
func (s *sender) run(probesUntil, stopAt time.Duration) error {
	data := make([]byte, dataSize)
	data[0] = kindData
	probe := make([]byte, 32)
	probe[0] = kindProbe

	writable := make(chan error, 1)
	waiting := false
	defer func() {
		// The socket drains at the link's rate, so a pending wait ends
		// within one socket buffer's worth of time.
		if waiting {
			<-writable
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ticker := time.NewTicker(probeEvery)
	defer ticker.Stop()
	stop := time.After(time.Until(s.epoch.Add(stopAt)))
	// now is ready at once: a saturating application refills an empty
	// queue without waiting for anything (on a fast link the kernel took
	// everything, and nothing else would wake the loop).
	now := make(chan struct{})
	close(now)

	for {
		var refill chan struct{}
		if s.p.Queue().Empty() {
			refill = now
		}
		if at, _, ok := s.p.PollTimeout(); ok {
			timer.Reset(max(time.Until(at), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-stop:
			return nil
		case <-refill:
		case <-timer.C:
			s.p.HandleTimeout(time.Now())
		case err := <-writable:
			waiting = false
			if err != nil {
				return fmt.Errorf("waiting for the socket to drain: %w", err)
			}
			s.p.SetWritable()
		case <-ticker.C:
			at := time.Since(s.epoch)
			if at >= probesUntil {
				ticker.Stop()
				break
			}
			binary.BigEndian.PutUint64(probe[1:], s.probes)
			binary.BigEndian.PutUint64(probe[9:], uint64(at))
			if err := s.p.Queue().Enqueue(netip.AddrPort{}, s.dst, probe, gso.Control, gso.NotECT); err != nil {
				return fmt.Errorf("enqueue probe: %w", err)
			}
			s.probeTimes = append(s.probeTimes, at)
			s.probes++
		}
		if err := s.fill(data); err != nil {
			return err
		}
		if _, err := s.p.Flush(time.Now()); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if u, err := s.conn.UnsentBytes(); err == nil {
			s.maxUnsent = max(s.maxUnsent, u)
		}
		if s.p.WantsWritable() && !waiting {
			waiting = true
			go func() { writable <- s.conn.WaitWritable() }()
		}
	}
}

// fill tops the queue up with Data until it pushes back.
func (s *sender) fill(data []byte) error {
	for {
		err := s.p.Queue().Enqueue(netip.AddrPort{}, s.dst, data, gso.Data, gso.NotECT)
		switch {
		case err == nil:
		case errors.Is(err, gso.ErrQueueFull):
			return nil
		default:
			return fmt.Errorf("enqueue data: %w", err)
		}
	}
}

// firstProbeAfter is the sequence number of the first probe enqueued at or
// after t since epoch.
func (s *sender) firstProbeAfter(t time.Duration) uint64 {
	i, _ := slices.BinarySearch(s.probeTimes, t)
	return uint64(i)
}

// receiver reads everything that crosses the link on a plain socket and
// timestamps it as it arrives.
type receiver struct {
	wg    sync.WaitGroup
	epoch time.Time

	mu     sync.Mutex
	delays map[uint64]time.Duration // probe sequence number to one-way delay
	data   []arrival
	seen   chan struct{} // signalled on every probe
}

type arrival struct {
	at    time.Duration
	bytes int
}

func newReceiver(uc *net.UDPConn, epoch time.Time) *receiver {
	r := &receiver{epoch: epoch, delays: make(map[uint64]time.Duration), seen: make(chan struct{}, 1)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, err := uc.Read(buf)
			at := time.Since(epoch)
			if err != nil {
				return // closed by the test
			}
			r.mu.Lock()
			switch {
			case n >= 17 && buf[0] == kindProbe:
				seq := binary.BigEndian.Uint64(buf[1:])
				sent := time.Duration(binary.BigEndian.Uint64(buf[9:]))
				r.delays[seq] = at - sent
				select {
				case r.seen <- struct{}{}:
				default:
				}
			case n > 0 && buf[0] == kindData:
				r.data = append(r.data, arrival{at, n})
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// waitFor waits until probes 0..n-1 have all arrived, or for at most d.
func (r *receiver) waitFor(n uint64, d time.Duration) {
	deadline := time.After(d)
	for {
		r.mu.Lock()
		got := uint64(len(r.delays))
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.seen:
		case <-deadline:
			return
		}
	}
}

// windowBytes is the Data payload that arrived in [from, to) since epoch.
// The caller holds r.mu.
func (r *receiver) windowBytes(from, to time.Duration) int {
	total := 0
	for _, a := range r.data {
		if a.at >= from && a.at < to {
			total += a.bytes
		}
	}
	return total
}
