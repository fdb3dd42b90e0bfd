package gso

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

var (
	srcA = netip.MustParseAddrPort("10.0.0.1:4000")
	dstA = netip.MustParseAddrPort("192.0.2.7:51820")
	dstB = netip.MustParseAddrPort("192.0.2.8:51820")
	dst6 = netip.MustParseAddrPort("[2001:db8::5]:51820")
)

func mustEnqueue(t *testing.T, q *Queue, dst netip.AddrPort, n int, c Class) {
	t.Helper()
	if err := q.Enqueue(srcA, dst, bytes.Repeat([]byte{byte(n)}, n), c, NotECT); err != nil {
		t.Fatalf("enqueue %d bytes: %v", n, err)
	}
}

// shape lists each queued batch as (class, segment size, segments), in send order.
type shape struct {
	class    Class
	segSize  int
	segments int
}

func shapeOf(q *Queue) []shape {
	var out []shape
	for _, b := range q.Peek(make([]*Batch, 0, 64)) {
		out = append(out, shape{b.Class(), b.SegmentSize(), b.Segments()})
	}
	return out
}

func wantShape(t *testing.T, q *Queue, want ...shape) {
	t.Helper()
	got := shapeOf(q)
	if len(got) != len(want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("batches %v, want %v", got, want)
		}
	}
}

func TestDatagramsOfOneFlowShareABatch(t *testing.T) {
	q := New(Config{})
	for range 3 {
		mustEnqueue(t, q, dstA, 1200, Data)
	}
	wantShape(t, q, shape{Data, 1200, 3})
}

func TestAShorterDatagramEndsTheBatch(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 700, Data)
	mustEnqueue(t, q, dstA, 700, Data)
	wantShape(t, q, shape{Data, 1200, 2}, shape{Data, 700, 1})
}

func TestALongerDatagramStartsANewBatch(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 700, Data)
	mustEnqueue(t, q, dstA, 1200, Data)
	wantShape(t, q, shape{Data, 700, 1}, shape{Data, 1200, 1})
}

func TestOnlyTheNewestBatchOfAFlowGrows(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 1300, Data) // new batch; the first may not grow again
	mustEnqueue(t, q, dstA, 1200, Data)
	wantShape(t, q, shape{Data, 1200, 1}, shape{Data, 1300, 2})
}

func TestFlowsDoNotShareBatches(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstB, 1200, Data)
	mustEnqueue(t, q, dstA, 1200, Data)
	if err := q.Enqueue(srcA, dstA, make([]byte, 1200), Data, ECT0); err != nil {
		t.Fatal(err)
	}
	wantShape(t, q, shape{Data, 1200, 2}, shape{Data, 1200, 1}, shape{Data, 1200, 1})
}

func TestABatchStopsAtMaxSegments(t *testing.T) {
	q := New(Config{Caps: Caps{MaxSegments: 4}})
	for range 6 {
		mustEnqueue(t, q, dstA, 100, Data)
	}
	wantShape(t, q, shape{Data, 100, 4}, shape{Data, 100, 2})
}

func TestABatchStopsAtTheFamilysByteLimit(t *testing.T) {
	q := New(Config{})
	for range 64 {
		mustEnqueue(t, q, dstA, 1200, Data)
		mustEnqueue(t, q, dst6, 1200, Data)
	}
	// 65507/1200 and 65527/1200 are both 54; 1489-byte datagrams tell
	// the families apart: IPv4 fits 43 (64027 bytes), IPv6 44 (65516).
	wantShape(t, q, shape{Data, 1200, 54}, shape{Data, 1200, 54}, shape{Data, 1200, 10}, shape{Data, 1200, 10})
	q = New(Config{})
	for range 50 {
		mustEnqueue(t, q, dstA, 1489, Data)
		mustEnqueue(t, q, dst6, 1489, Data)
	}
	wantShape(t, q, shape{Data, 1489, 43}, shape{Data, 1489, 44}, shape{Data, 1489, 7}, shape{Data, 1489, 6})
}

func TestControlLeavesBeforeEarlierData(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 100, Control)
	mustEnqueue(t, q, dstB, 1200, Data)
	mustEnqueue(t, q, dstB, 80, Control)
	wantShape(t, q, shape{Control, 100, 1}, shape{Control, 80, 1}, shape{Data, 1200, 1}, shape{Data, 1200, 1})
}

func TestFIFOPolicyKeepsEnqueueOrderAcrossClasses(t *testing.T) {
	q := New(Config{Policy: FIFO})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 100, Control)
	wantShape(t, q, shape{Data, 1200, 1}, shape{Control, 100, 1})
}

func TestSmallestSegmentFirstPolicyPutsAShortTailFirst(t *testing.T) {
	q := New(Config{Policy: SmallestSegmentFirst, Caps: Caps{MaxSegments: 2}})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 300, Data) // the burst's tail overtakes its head
	wantShape(t, q, shape{Data, 300, 1}, shape{Data, 1200, 2})
}

func TestAPartialSendResumesAtTheNextSegment(t *testing.T) {
	q := New(Config{})
	for i := range 5 {
		if err := q.Enqueue(srcA, dstA, bytes.Repeat([]byte{byte(i)}, 1000), Data, NotECT); err != nil {
			t.Fatal(err)
		}
	}
	q.Peek(make([]*Batch, 0, 4))
	if err := q.Advance(2); err != nil {
		t.Fatal(err)
	}
	b := q.Peek(make([]*Batch, 0, 4))
	if len(b) != 1 || b[0].Segments() != 3 || b[0].Segment(0)[0] != 2 || len(b[0].Payload()) != 3000 {
		t.Fatalf("after 2 of 5 sent: %d batches, first segment starts %d", len(b), b[0].Segment(0)[0])
	}
	if err := q.Advance(3); err != nil {
		t.Fatal(err)
	}
	if !q.Empty() {
		t.Fatal("queue not empty after everything was sent")
	}
	s := q.Stats()
	if s.Classes[Data].DatagramsOut != 5 || s.Classes[Data].BytesOut != 5000 || s.Batches != 1 || s.SegmentsPerBatch[2] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAPeekedBatchDoesNotGrow(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	q.Peek(make([]*Batch, 0, 1))
	mustEnqueue(t, q, dstA, 1200, Data)
	if err := q.Advance(1); err != nil {
		t.Fatal(err)
	}
	wantShape(t, q, shape{Data, 1200, 1})
}

func TestAdvanceBeyondWhatWasPeekedIsRefused(t *testing.T) {
	q := New(Config{})
	mustEnqueue(t, q, dstA, 1200, Data)
	mustEnqueue(t, q, dstA, 1200, Data)
	q.Peek(make([]*Batch, 0, 1))
	if err := q.Advance(3); !errors.Is(err, ErrAdvance) {
		t.Fatalf("advance 3 of 2: %v", err)
	}
	if err := q.Advance(2); err != nil {
		t.Fatal(err)
	}
	if err := q.Advance(1); !errors.Is(err, ErrAdvance) {
		t.Fatalf("advance without a peek: %v", err)
	}
}

func TestDataBeyondItsBoundIsRefusedButControlIsNot(t *testing.T) {
	q := New(Config{DataByteLimit: 64 << 10})
	mustEnqueue(t, q, dstA, 1200, Data) // one 64 KiB buffer: the whole bound
	err := q.Enqueue(srcA, dstB, make([]byte, 1200), Data, NotECT)
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("second data flow: %v, want ErrQueueFull", err)
	}
	mustEnqueue(t, q, dstA, 1200, Data) // extends the batch it already holds
	mustEnqueue(t, q, dstB, 100, Control)
	s := q.Stats()
	if s.Classes[Data].Refused != 1 || s.Classes[Data].RefusedBytes != 1200 || s.Classes[Control].Refused != 0 {
		t.Fatalf("refusals %+v", s.Classes)
	}
}

func TestInputNoSocketCouldSendIsRefused(t *testing.T) {
	q := New(Config{})
	cases := []struct {
		name    string
		dst     netip.AddrPort
		n       int
		class   Class
		ecn     ECN
		wantErr error
	}{
		{"empty", dstA, 0, Data, NotECT, ErrEmptyDatagram},
		{"over the IPv4 limit", dstA, MaxBytesIPv4 + 1, Data, NotECT, ErrDatagramTooLarge},
		{"over the IPv6 limit", dst6, MaxBytesIPv6 + 1, Data, NotECT, ErrDatagramTooLarge},
		{"no destination", netip.AddrPort{}, 10, Data, NotECT, ErrInvalidAddr},
		{"port zero", netip.AddrPortFrom(dstA.Addr(), 0), 10, Data, NotECT, ErrInvalidAddr},
		{"unknown class", dstA, 10, Class(7), NotECT, ErrInvalidClass},
		{"five-bit ECN", dstA, 10, Data, ECN(4), ErrInvalidECN},
	}
	for _, c := range cases {
		if err := q.Enqueue(srcA, c.dst, make([]byte, c.n), c.class, c.ecn); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: %v, want %v", c.name, err, c.wantErr)
		}
	}
	if err := q.Enqueue(srcA, dst6, make([]byte, MaxBytesIPv6), Data, NotECT); err != nil {
		t.Errorf("largest IPv6 datagram: %v", err)
	}
	if !q.Empty() && q.Len() != 1 {
		t.Errorf("queue holds %d batches", q.Len())
	}
}

func TestIdleBuffersAreReleasedAfterTheirTTL(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := New(Config{})
	q.HandleTimeout(t0)
	mustEnqueue(t, q, dstA, 1200, Data)
	q.Peek(make([]*Batch, 0, 1))
	q.Advance(1)
	if _, _, ok := q.PollTimeout(); !ok || q.Stats().PooledBuffers != 1 {
		t.Fatal("a freed buffer should be pooled with a release deadline")
	}
	q.HandleTimeout(t0.Add(10 * time.Second)) // stamps the buffer as free since now
	at, reason, _ := q.PollTimeout()
	if reason != "gso: idle-buffers" {
		t.Fatalf("reason %q", reason)
	}
	if want := t0.Add(70 * time.Second); !at.Equal(want) {
		t.Fatalf("release at %v, want %v", at, want)
	}
	q.HandleTimeout(at.Add(-time.Nanosecond))
	if q.Stats().PooledBuffers != 1 {
		t.Fatal("released before its TTL")
	}
	q.HandleTimeout(at)
	if q.Stats().PooledBuffers != 0 {
		t.Fatal("kept after its TTL")
	}
	if _, _, ok := q.PollTimeout(); ok {
		t.Fatal("deadline with nothing pooled")
	}
}

func TestSteadyStateReusesBuffers(t *testing.T) {
	q := New(Config{})
	p := make([]byte, 1200)
	out := make([]*Batch, 0, 8)
	cycle := func() {
		for range 64 {
			q.Enqueue(srcA, dstA, p, Data, NotECT)
		}
		q.Enqueue(srcA, dstA, p[:100], Control, NotECT)
		out = q.Peek(out[:0])
		n := 0
		for _, b := range out {
			n += b.Segments()
		}
		q.Advance(n)
	}
	cycle()
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("%v allocations per cycle in steady state", allocs)
	}
}

// DropOldestData drops the unsent rest of the oldest Data batch, never
// Control, keeps the accounting of queued bytes, and refuses to run while a
// peek is outstanding.
func TestDropOldestDataDropsTheHeadOfDataOnly(t *testing.T) {
	q := New(Config{Caps: Caps{MaxSegments: 4}})
	dst := netip.MustParseAddrPort("192.0.2.1:9")
	for i := range 6 { // Data batches of 4 and 2 segments
		if err := q.Enqueue(netip.AddrPort{}, dst, []byte{byte(i), 1, 2}, Data, NotECT); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(netip.AddrPort{}, dst, []byte{9}, Control, NotECT); err != nil {
		t.Fatal(err)
	}
	// The kernel took one segment of the first Data batch.
	q.Peek(make([]*Batch, 0, 8))
	if d, _ := q.DropOldestData(); d != 0 {
		t.Fatal("dropped while a peek was outstanding")
	}
	if err := q.Advance(2); err != nil { // the Control datagram and one Data
		t.Fatal(err)
	}
	d, b := q.DropOldestData()
	if d != 3 || b != 9 || q.QueuedBytes(Data) != 6 || q.QueuedBytes(Control) != 0 {
		t.Fatalf("dropped %d datagrams, %d bytes; %d Data bytes queued", d, b, q.QueuedBytes(Data))
	}
	got := q.Peek(make([]*Batch, 0, 8))
	if len(got) != 1 || got[0].Segments() != 2 || got[0].Segment(0)[0] != 4 {
		t.Fatalf("after the drop the queue holds %d batches", len(got))
	}
	if s := q.Stats().Classes[Data]; s.HeadDropped != 3 || s.HeadDroppedBytes != 9 {
		t.Fatalf("drop not counted: %+v", s)
	}
}
