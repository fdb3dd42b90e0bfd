package gso

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkEnqueueDrain measures one datagram's way through the queue:
// enqueue (the copy included) and its share of peek and advance, with the
// driver flushing after every 64 datagrams, as a pump does between polls.
func BenchmarkEnqueueDrain(b *testing.B) {
	for _, flows := range []int{1, 4, 64} {
		for _, size := range []int{1200, 100} {
			b.Run(fmt.Sprintf("flows=%d/size=%d", flows, size), func(b *testing.B) {
				benchEnqueueDrain(b, flows, size)
			})
		}
	}
}

func benchEnqueueDrain(b *testing.B, flows, size int) {
	dsts := make([]netip.AddrPort, flows)
	for i := range dsts {
		dsts[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 51820)
	}
	q := New(Config{DataByteLimit: 64 << 20})
	payload := make([]byte, size)
	out := make([]*Batch, 0, 128)
	const flushEvery = 64
	drain := func() {
		for !q.Empty() {
			out = q.Peek(out[:0])
			n := 0
			for _, bt := range out {
				n += bt.Segments()
			}
			if err := q.Advance(n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Datagrams of a flow arrive in runs, as a tunnel's packets do.
		dst := dsts[(i/8)%flows]
		if err := q.Enqueue(netip.AddrPort{}, dst, payload, Data, NotECT); err != nil {
			b.Fatal(err)
		}
		if i%flushEvery == flushEvery-1 {
			drain()
		}
	}
	drain()
}
