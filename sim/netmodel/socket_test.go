package netmodel

import (
	"errors"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

func TestASlowUplinkFillsTheSendBufferAndThenBlocks(t *testing.T) {
	p := newPair(t, 20, LinkConfig{RateBitsPerSecond: 1_000_000})
	accepted := 0
	var err error
	for err == nil {
		if err = p.sa.WriteTo(payload(uint64(accepted), 1200), p.sb.LocalAddr()); err == nil {
			accepted++
		}
	}
	if !errors.Is(err, pump.ErrWouldBlock) {
		t.Fatalf("error %v, want pump.ErrWouldBlock", err)
	}
	// Taken while the buffer is below 212992 bytes: ceil(212992/1200).
	if accepted != 178 {
		t.Fatalf("accepted %d datagrams, want 178", accepted)
	}
	if used := p.sa.Stats().MaxSendBufferUsed; used >= DefaultSendBufferBytes+1200 {
		t.Fatalf("buffer reached %d bytes, bound is %d plus one datagram", used, DefaultSendBufferBytes)
	}
}

func TestWritableComesOnceTheSendBufferDrainsBelowHalf(t *testing.T) {
	p := newPair(t, 21, LinkConfig{RateBitsPerSecond: 1_000_000})
	var writable []time.Duration
	var usedAtWake int
	p.sa.SetNotify(func(now time.Time, ev SocketEvent) {
		if ev == Writable {
			writable = append(writable, now.Sub(world.Epoch))
			usedAtWake = p.sa.SendBufferUsed()
		}
	})
	for p.sa.WriteTo(payload(0, 1222), p.sb.LocalAddr()) == nil {
	}
	p.w.RunUntilIdle(1 << 16)
	if len(writable) != 1 {
		t.Fatalf("writable %d times, want exactly once per refusal", len(writable))
	}
	if usedAtWake >= DefaultSendBufferBytes/2 || usedAtWake < DefaultSendBufferBytes/2-1222 {
		t.Fatalf("woken with %d bytes used, want just below half of %d", usedAtWake, DefaultSendBufferBytes)
	}
	// 175 datagrams of 10 ms each were taken; the wake comes once 88 have
	// left (175-88 = 87 left, 87*1222 < 106496).
	if writable[0] != 88*10*time.Millisecond {
		t.Fatalf("writable at %v, want 880ms", writable[0])
	}
}

func TestSendTakesWholeGSOBatchesAndReportsHowManyDatagramsItTook(t *testing.T) {
	p := newPair(t, 22, LinkConfig{RateBitsPerSecond: 1_000_000})
	q := gso.New(gso.Config{Caps: p.sa.Caps()})
	for i := 0; i < 400; i++ {
		if err := q.Enqueue(p.sa.LocalAddr(), p.sb.LocalAddr(), payload(uint64(i), 1200), gso.Data, gso.NotECT); err != nil {
			t.Fatal(err)
		}
	}
	batches := q.Peek(make([]*gso.Batch, 0, 16))
	n, err := p.sa.Send(batches)
	if !errors.Is(err, pump.ErrWouldBlock) {
		t.Fatalf("error %v, want would-block", err)
	}
	// A batch holds 54 datagrams of 1200 bytes (65507 bytes at most).
	// Whole batches are taken while below 212992 bytes: the fourth starts
	// at 194400 and overshoots by less than one batch, as on Linux.
	if n != 4*54 {
		t.Fatalf("took %d datagrams, want 216 (four whole batches)", n)
	}
	if err := q.Advance(n); err != nil {
		t.Fatal(err)
	}
	p.w.RunUntilIdle(1 << 16)
	if len(p.recv.got) != 216 {
		t.Fatalf("delivered %d, want 216", len(p.recv.got))
	}
	for i, a := range p.recv.got {
		if a.seq != uint64(i) {
			t.Fatalf("datagram %d carried seq %d", i, a.seq)
		}
	}
}

func TestSendRefusesABatchBeyondTheCaps(t *testing.T) {
	p := newPair(t, 23, LinkConfig{})
	q := gso.New(gso.Config{Caps: gso.Caps{MaxSegments: 8}})
	for i := 0; i < 8; i++ {
		q.Enqueue(p.sa.LocalAddr(), p.sb.LocalAddr(), payload(0, 100), gso.Data, gso.NotECT)
	}
	small, _ := p.b.Bind(0, SocketConfig{MaxSegments: 4})
	if _, err := small.Send(q.Peek(make([]*gso.Batch, 0, 4))); !errors.Is(err, ErrTooManySegments) {
		t.Fatalf("error %v, want ErrTooManySegments", err)
	}
}

func TestTheReceiveBufferIsBoundedAndOverflowIsCounted(t *testing.T) {
	p := newPair(t, 24, LinkConfig{})
	p.sb.SetNotify(nil) // nobody reads
	for i := 0; i < 300; i++ {
		p.w.After(time.Duration(i)*time.Microsecond, "app", func(time.Time) {
			p.sa.WriteTo(payload(uint64(i), 1000), p.sb.LocalAddr())
		})
	}
	p.w.RunUntilIdle(10000)
	if p.sb.RecvQueued() != 212 || p.sb.Stats().DropRecvBufferFull != 88 {
		t.Fatalf("queued %d dropped %d, want 212 and 88", p.sb.RecvQueued(), p.sb.Stats().DropRecvBufferFull)
	}
}

func TestRecvFillsPumpMessagesAndTruncatesLongDatagrams(t *testing.T) {
	p := newPair(t, 25, LinkConfig{})
	p.sb.SetNotify(nil)
	p.sa.WriteTo(payload(1, 100), p.sb.LocalAddr())
	p.sa.WriteTo(payload(2, 10), p.sb.LocalAddr())
	p.w.RunUntilIdle(100)
	msgs := []pump.Message{{Buf: make([]byte, 50)}, {Buf: make([]byte, 50)}, {Buf: make([]byte, 50)}}
	n, err := p.sb.Recv(msgs)
	if err != nil || n != 2 {
		t.Fatalf("Recv = %d, %v; want 2, nil", n, err)
	}
	if msgs[0].N != 50 || msgs[1].N != 10 || p.sb.Stats().Truncated != 1 {
		t.Fatalf("lengths %d and %d, truncated %d", msgs[0].N, msgs[1].N, p.sb.Stats().Truncated)
	}
	if msgs[0].Src != p.sa.LocalAddr() || msgs[0].Dst != p.sb.LocalAddr() {
		t.Fatalf("addresses %v -> %v", msgs[0].Src, msgs[0].Dst)
	}
	if n, _ := p.sb.Recv(msgs); n != 0 {
		t.Fatalf("an empty queue returned %d", n)
	}
}

func TestAWildcardSocketServesEveryPortOfItsHost(t *testing.T) {
	p := newPair(t, 26, LinkConfig{})
	all, _ := p.b.BindAll(SocketConfig{})
	p.sa.WriteTo(payload(1, 10), addrPortOfB(50000))
	p.w.RunUntilIdle(100)
	got, ok := all.ReadFrom()
	if !ok || got.Dst.Port() != 50000 {
		t.Fatalf("wildcard got %v %v", got.Dst, ok)
	}
	if err := all.WriteFrom(got.Dst, got.Src, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := all.WriteTo([]byte("hi"), got.Src); !errors.Is(err, ErrBadSource) {
		t.Fatalf("a wildcard send without a source gave %v", err)
	}
}
