package netmodel

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

func TestLatencyAndJitterStayWithinTheirBoundsAndKeepOrder(t *testing.T) {
	p := newPair(t, 1, LinkConfig{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond})
	p.sendEvery(t, 2000, time.Millisecond, 100)
	p.w.RunUntilIdle(1 << 20)
	if len(p.recv.got) != 2000 {
		t.Fatalf("delivered %d of 2000", len(p.recv.got))
	}
	var sum time.Duration
	for i, a := range p.recv.got {
		if a.seq != uint64(i) {
			t.Fatalf("arrival %d carried seq %d: jitter reordered", i, a.seq)
		}
		if a.delay < 20*time.Millisecond || a.delay >= 31*time.Millisecond {
			t.Fatalf("delay %v outside [20ms, 31ms)", a.delay)
		}
		sum += a.delay
	}
	// In-order clamping pushes the mean above latency + jitter/2 a little.
	within(t, "mean delay ms", float64(sum.Milliseconds())/2000, 24, 29)
}

func TestRandomLossDropsAboutItsRate(t *testing.T) {
	p := newPair(t, 2, LinkConfig{LossRate: 0.1})
	p.sendEvery(t, 10000, time.Millisecond, 100)
	p.w.RunUntilIdle(1 << 20)
	lost := 10000 - len(p.recv.got)
	within(t, "loss", float64(lost)/10000, 0.09, 0.11)
	if got := p.a.Up().Stats().DropLoss; got != uint64(lost) {
		t.Errorf("link counted %d losses, receiver missed %d", got, lost)
	}
	if got := p.w.Trace().Count(world.KindDrop, DropLoss); got != uint64(lost) {
		t.Errorf("trace has %d loss drops, want %d", got, lost)
	}
}

func TestGilbertElliottLossComesInBurstsOfTheExpectedLength(t *testing.T) {
	ge := GilbertElliott{GoodToBad: 0.01, BadToGood: 0.25, LossBad: 1}
	p := newPair(t, 3, LinkConfig{Burst: ge})
	const n = 50000
	p.sendEvery(t, n, time.Millisecond, 100)
	p.w.RunUntilIdle(1 << 22)
	lost := n - len(p.recv.got)
	within(t, "loss", float64(lost)/n, ge.MeanLoss()*0.8, ge.MeanLoss()*1.2)
	// Bursts: runs of consecutive missing sequence numbers.
	bursts, next := 0, uint64(0)
	for _, a := range p.recv.got {
		if a.seq != next {
			bursts++
		}
		next = a.seq + 1
	}
	within(t, "mean burst length", float64(lost)/float64(bursts), 3.2, 4.8)
}

func TestDuplicationDeliversAboutItsRateTwice(t *testing.T) {
	p := newPair(t, 4, LinkConfig{DuplicateRate: 0.05, Latency: time.Millisecond})
	p.sendEvery(t, 10000, time.Millisecond, 100)
	p.w.RunUntilIdle(1 << 20)
	within(t, "duplicates", float64(len(p.recv.got)-10000)/10000, 0.04, 0.06)
}

func TestReorderingLetsLaterPacketsOvertakeAndIsOffByDefault(t *testing.T) {
	overtaken := func(cfg LinkConfig) int {
		p := newPair(t, 5, cfg)
		p.sendEvery(t, 1000, time.Millisecond, 100)
		p.w.RunUntilIdle(1 << 20)
		n := 0
		for i := 1; i < len(p.recv.got); i++ {
			if p.recv.got[i].seq < p.recv.got[i-1].seq {
				n++
			}
		}
		return n
	}
	base := LinkConfig{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	if n := overtaken(base); n != 0 {
		t.Fatalf("%d reorderings without ReorderRate", n)
	}
	base.ReorderRate, base.ReorderDelay = 0.05, 20*time.Millisecond
	within(t, "reordered share", float64(overtaken(base))/1000, 0.03, 0.07)
}

func TestDatagramsOverTheMTUAreDroppedAndCounted(t *testing.T) {
	p := newPair(t, 6, LinkConfig{MTU: 1500})
	for i, size := range []int{1472, 1473, 100} { // 1472 + 28 header bytes is exactly 1500
		p.sa.WriteTo(payload(uint64(i), size), p.sb.LocalAddr())
	}
	p.w.RunUntilIdle(100)
	if len(p.recv.got) != 2 || p.recv.got[0].seq != 0 || p.recv.got[1].seq != 2 {
		t.Fatalf("delivered %+v, want seqs 0 and 2", p.recv.got)
	}
	if p.a.Up().Stats().DropMTU != 1 || p.w.Trace().Count(world.KindDrop, DropMTU) != 1 {
		t.Fatal("the over-MTU datagram was not counted exactly once")
	}
}

func TestTheRateSerializesPacketsOneAfterAnother(t *testing.T) {
	// 1222 payload bytes + 28 header bytes = 10000 bits: 10 ms at 1 Mbit/s.
	p := newPair(t, 7, LinkConfig{RateBitsPerSecond: 1_000_000, Latency: 5 * time.Millisecond})
	for i := 0; i < 100; i++ {
		if err := p.sa.WriteTo(payload(uint64(i), 1222), p.sb.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	p.w.RunUntilIdle(1000)
	for i, a := range p.recv.got {
		if want := time.Duration(i+1)*10*time.Millisecond + 5*time.Millisecond; a.at.Sub(world.Epoch) != want {
			t.Fatalf("packet %d arrived at %v, want %v", i, a.at.Sub(world.Epoch), want)
		}
	}
}

func TestABottleneckQueueDropsTailBeyondItsBound(t *testing.T) {
	w := world.New(world.Config{Seed: 8})
	delivered := 0
	l := NewLink(w, "bottleneck", LinkConfig{RateBitsPerSecond: 1_000_000, QueueBytes: 10_000}, func(Packet) { delivered++ })
	for i := 0; i < 20; i++ {
		l.Send(Packet{Dst: addrPortB, Payload: make([]byte, 972)}) // 1000 wire bytes
	}
	w.RunUntilIdle(1000)
	st := l.Stats()
	if delivered != 10 || st.DropQueueFull != 10 {
		t.Fatalf("delivered %d dropped %d, want 10 and 10", delivered, st.DropQueueFull)
	}
	if st.MaxQueuedBytes > 10_000 {
		t.Fatalf("queue held %d bytes, bound is 10000", st.MaxQueuedBytes)
	}
}

func TestACutLinkDropsEverythingUntilHealed(t *testing.T) {
	p := newPair(t, 9, LinkConfig{})
	p.a.CutDuring(world.Epoch.Add(100*time.Millisecond), world.Epoch.Add(200*time.Millisecond))
	p.sendEvery(t, 300, time.Millisecond, 100)
	p.w.RunUntilIdle(10000)
	if len(p.recv.got) != 200 || p.a.Up().Stats().DropLinkDown != 100 {
		t.Fatalf("delivered %d dropped %d, want 200 and 100", len(p.recv.got), p.a.Up().Stats().DropLinkDown)
	}
}
