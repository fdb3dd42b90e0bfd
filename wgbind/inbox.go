package wgbind

import (
	"net"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
)

// inbox hands datagrams from the Driver's goroutine to the ReceiveFuncs.
// The Driver's side never blocks: it copies into the buffers of a waiting
// receiver when there is one, else into a bounded ring, else drops and
// counts. Its memory is bounded by the ring: len(ring) buffers, each as
// large as the largest datagram it has held.
type inbox struct {
	mu     sync.Mutex
	ring   []slot
	head   int // oldest queued datagram
	queued int
	// waiter is the receiver parked in take, nil when none is.
	waiter *waiter
	stats  Stats
}

type slot struct {
	ep *Endpoint
	b  []byte
}

// waiter is a receiver's wireguard-go buffers, filled by put while it
// sleeps; n counts those filled.
type waiter struct {
	bufs  [][]byte
	sizes []int
	eps   []conn.Endpoint
	n     int
	wake  chan struct{} // capacity 1: a wake-up is never lost or blocking
}

func newInbox(n int) *inbox { return &inbox{ring: make([]slot, n)} }

// put delivers one datagram. It runs on the Driver's goroutine.
func (q *inbox) put(ep *Endpoint, p []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Received++
	// A parked receiver means the ring is empty (take drains it first),
	// so copying straight into its buffers keeps the order.
	if w := q.waiter; w != nil && w.n < len(w.bufs) {
		if len(p) > len(w.bufs[w.n]) {
			q.stats.TooBigDrops++
			return
		}
		w.sizes[w.n] = copy(w.bufs[w.n], p)
		w.eps[w.n] = ep
		w.n++
		if w.n == 1 {
			w.wake <- struct{}{}
		}
		return
	}
	if q.queued == len(q.ring) {
		q.stats.QueueDrops++
		return
	}
	s := &q.ring[(q.head+q.queued)%len(q.ring)]
	s.ep, s.b = ep, append(s.b[:0], p...)
	q.queued++
}

// take fills bufs with the queued datagrams, or parks until put delivers at
// least one or closed is closed. w is the caller's own waiter, reused
// across calls.
func (q *inbox) take(w *waiter, closed <-chan struct{}) (int, error) {
	select {
	case <-closed:
		return 0, net.ErrClosed
	default:
	}
	q.mu.Lock()
	if q.queued > 0 {
		n := 0
		for ; n < len(w.bufs) && q.queued > 0; q.queued-- {
			s := &q.ring[q.head]
			q.head = (q.head + 1) % len(q.ring)
			if len(s.b) > len(w.bufs[n]) {
				q.stats.TooBigDrops++
				continue
			}
			w.sizes[n] = copy(w.bufs[n], s.b)
			w.eps[n] = s.ep
			s.ep = nil
			n++
		}
		q.stats.Delivered += uint64(n)
		q.mu.Unlock()
		if n > 0 {
			return n, nil
		}
		q.mu.Lock()
	}
	w.n = 0
	q.waiter = w
	q.mu.Unlock()
	select {
	case <-w.wake:
	case <-closed:
	}
	q.mu.Lock()
	q.waiter = nil
	n := w.n
	q.stats.Delivered += uint64(n)
	// A wake-up sent after closed won is drained, so the next call does
	// not return with nothing.
	select {
	case <-w.wake:
	default:
	}
	q.mu.Unlock()
	if n == 0 {
		return 0, net.ErrClosed
	}
	return n, nil
}

// drop empties the ring, counting what was queued as dropped while closed.
func (q *inbox) drop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.ClosedDrops += uint64(q.queued)
	for ; q.queued > 0; q.queued-- {
		q.ring[q.head].ep = nil
		q.head = (q.head + 1) % len(q.ring)
	}
}

func (q *inbox) closedDrop() {
	q.mu.Lock()
	q.stats.Received++
	q.stats.ClosedDrops++
	q.mu.Unlock()
}

func (q *inbox) snapshot() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}
