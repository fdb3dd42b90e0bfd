package linux

import (
	"testing"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

func TestSendRecvAndUnsentBytesDoNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are noisy under -short runs with coverage")
	}
	tx := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := newConn(t, "udp4", "127.0.0.1:0", Config{})
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 64, gso.Data)
	// Sending the same peeked batches again and again is allowed: Send
	// only reads them.
	batches := q.Peek(make([]*gso.Batch, 0, 8))
	msgs := make([]pump.Message, 8)
	for i := range msgs {
		msgs[i].Buf = make([]byte, RecvBufferSize)
	}
	rx.uc.SetReadDeadline(deadline())

	allocs := testing.AllocsPerRun(50, func() {
		if n, err := tx.Send(batches); n != 64 || err != nil {
			t.Fatalf("Send = %d, %v", n, err)
		}
		for got := 0; got < 64; {
			n, err := rx.Recv(msgs)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs[:n] {
				m.Datagrams(func([]byte) { got++ })
			}
		}
		if _, err := tx.UnsentBytes(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 64-datagram round trip, want 0", allocs)
	}
}
