package wgbind

import (
	"errors"
	"net"
	"testing"

	"golang.zx2c4.com/wireguard/conn"
)

func newWaiter(n, size int) *waiter {
	w := &waiter{bufs: make([][]byte, n), sizes: make([]int, n), eps: make([]conn.Endpoint, n), wake: make(chan struct{}, 1)}
	for i := range w.bufs {
		w.bufs[i] = make([]byte, size)
	}
	return w
}

// A full ring drops and counts; what it held comes out in order, and the
// payload was copied (the Driver reuses its buffer).
func TestAFullInboxDropsAndCountsAndKeepsOrder(t *testing.T) {
	q := newInbox(4)
	ep := newEndpoint(3)
	buf := make([]byte, 1)
	for i := range 6 {
		buf[0] = byte(i)
		q.put(ep, buf)
	}
	buf[0] = 99
	if s := q.snapshot(); s.Received != 6 || s.QueueDrops != 2 {
		t.Fatalf("stats %+v, want 6 received and 2 queue drops", s)
	}
	w := newWaiter(3, 16)
	n, err := q.take(w, make(chan struct{}))
	if err != nil || n != 3 {
		t.Fatalf("take: %d, %v", n, err)
	}
	for i := range n {
		if w.sizes[i] != 1 || w.bufs[i][0] != byte(i) || w.eps[i] != conn.Endpoint(ep) {
			t.Fatalf("datagram %d: size %d byte %d ep %v", i, w.sizes[i], w.bufs[i][0], w.eps[i])
		}
	}
	q.drop()
	if s := q.snapshot(); s.ClosedDrops != 1 || s.Delivered != 3 {
		t.Fatalf("after drop: %+v, want 1 closed drop and 3 delivered", s)
	}
}

// A parked receiver gets the datagram in its own buffers, and a closed
// channel with nothing delivered is net.ErrClosed.
func TestAParkedReceiverIsFilledDirectlyAndClosedWakesIt(t *testing.T) {
	q := newInbox(4)
	w := newWaiter(2, 16)
	got := make(chan int, 1)
	go func() {
		n, _ := q.take(w, make(chan struct{}))
		got <- n
	}()
	for {
		q.mu.Lock()
		parked := q.waiter != nil
		q.mu.Unlock()
		if parked {
			break
		}
	}
	q.put(newEndpoint(1), []byte{7, 8})
	if n := <-got; n != 1 || w.sizes[0] != 2 || w.bufs[0][1] != 8 {
		t.Fatalf("take returned %d, sizes %v", n, w.sizes)
	}
	closed := make(chan struct{})
	close(closed)
	if _, err := q.take(newWaiter(1, 16), closed); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("take on closed: %v", err)
	}
	if s := q.snapshot(); s.QueueDrops != 0 || s.Delivered != 1 {
		t.Fatalf("stats %+v", s)
	}
}
