package gso

import (
	"net/netip"
	"testing"
)

// DropSource takes out every batch from the address that went away, of
// either class, wherever it sits in the queue; the rest keeps its order,
// nothing counts as sent, and the buffers go back to the pool.
func TestDropSourceRemovesOnlyTheBatchesFromThatAddress(t *testing.T) {
	srcB := netip.MustParseAddrPort("10.0.1.1:4000")
	q := New(Config{})
	enqueue := func(src netip.AddrPort, n int, c Class) {
		t.Helper()
		if err := q.Enqueue(src, dstA, make([]byte, n), c, NotECT); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(srcA, 1200, Data)
	enqueue(srcA, 1200, Data)
	enqueue(srcB, 1000, Data)
	enqueue(srcA, 100, Control)
	enqueue(srcB, 90, Control)
	held := q.Stats().HeldBytes
	control, data := q.DropSource(srcA)
	if control != 1 || data != 2 {
		t.Fatalf("dropped %d Control and %d Data datagrams, want 1 and 2", control, data)
	}
	wantShape(t, q, shape{Control, 90, 1}, shape{Data, 1000, 1})
	q.Advance(0)
	s := q.Stats()
	if s.Classes[Data].Dropped != 2 || s.Classes[Data].DroppedBytes != 2400 || s.Classes[Control].Dropped != 1 {
		t.Fatalf("drop counters %+v", s.Classes)
	}
	if s.HeldBytes[Data] >= held[Data] || s.Batches != 0 {
		t.Fatalf("held %v after (%v before), %d batches counted as sent", s.HeldBytes, held, s.Batches)
	}
	// A datagram from srcA (the address came back) starts a batch anew.
	enqueue(srcA, 1200, Data)
	wantShape(t, q, shape{Control, 90, 1}, shape{Data, 1000, 1}, shape{Data, 1200, 1})
}

// A driver sends a round on its own goroutine while its loop serves
// commands, so an address can go away between a Peek and its Advance: the
// peeked batches stay for their Advance, and only the rest is dropped.
func TestDropSourceLeavesTheBatchesOfAPeekInFlight(t *testing.T) {
	q := New(Config{Caps: Caps{MaxSegments: 1}})
	for range 3 {
		if err := q.Enqueue(srcA, dstA, make([]byte, 1200), Data, NotECT); err != nil {
			t.Fatal(err)
		}
	}
	peeked := q.Peek(make([]*Batch, 0, 1)) // one batch in flight
	if len(peeked) != 1 {
		t.Fatalf("peeked %d batches", len(peeked))
	}
	_, data := q.DropSource(srcA)
	if data != 2 {
		t.Fatalf("dropped %d Data datagrams, want the 2 not in flight", data)
	}
	if err := q.Advance(1); err != nil {
		t.Fatalf("Advance after DropSource: %v", err)
	}
	if !q.Empty() {
		t.Fatal("the queue should be empty: one sent, two dropped")
	}
}
