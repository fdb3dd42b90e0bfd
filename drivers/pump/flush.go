package pump

import (
	"errors"

	"github.com/peerlink/peerlink/state/gso"
)

// UnsentCounter is implemented by Conns that can tell how many bytes the
// kernel holds for the socket and has not yet put on the wire (Linux:
// ioctl SIOCOUTQ). The flusher uses it for the kernel queue budget.
type UnsentCounter interface {
	UnsentBytes() (int, error)
}

// FlushResult says why a flush stopped.
type FlushResult struct {
	// Datagrams the kernel took during this flush.
	Datagrams int
	// Blocked: the socket's send buffer is full. Wait until it is writable
	// and flush again.
	Blocked bool
	// DataHeld: Data is queued but the kernel already holds more unsent
	// bytes than the budget allows, so only Control was sent. Kernels give
	// no signal when their queue shrinks; flush again after the config's
	// BudgetRecheck.
	DataHeld bool
}

// flusher moves batches from the queue into a Conn. It owns the slice it
// peeks into, so flushing allocates nothing.
type flusher struct {
	peek   []*gso.Batch
	budget int // kernel Data budget in bytes; 0 = no budget
	stats  *Stats
}

func newFlusher(maxBatches, budget int, stats *Stats) flusher {
	return flusher{peek: make([]*gso.Batch, 0, maxBatches), budget: budget, stats: stats}
}

// flush sends until the queue is empty, the socket would block, Data is held
// back by the kernel budget, or the Conn fails. Whatever the Conn did not
// take stays queued in order.
func (f *flusher) flush(q *gso.Queue, c Conn) (FlushResult, error) {
	var res FlushResult
	for !q.Empty() {
		batches := q.Peek(f.peek[:0])
		if f.overBudget(c) {
			batches = controlPrefix(batches)
			if len(batches) == 0 {
				res.DataHeld = true
				f.stats.DataHeld++
				// Nothing will be sent: release the peek.
				_ = q.Advance(0)
				return res, nil
			}
			res.DataHeld = true
		}
		n, err := c.Send(batches)
		if aerr := q.Advance(n); aerr != nil {
			// The Conn claimed more than it was given: a driver bug.
			panic("pump: " + aerr.Error())
		}
		res.Datagrams += n
		f.stats.DatagramsSent += uint64(n)
		f.stats.Sends++
		switch {
		case errors.Is(err, ErrWouldBlock):
			res.Blocked = true
			f.stats.WouldBlock++
			return res, nil
		case err != nil:
			f.stats.SendErrors++
			return res, err
		}
		if res.DataHeld {
			return res, nil
		}
	}
	return res, nil
}

// overBudget reports whether the kernel already holds as many unsent bytes
// as the budget allows, in which case Data waits and Control goes alone.
func (f *flusher) overBudget(c Conn) bool {
	if f.budget <= 0 {
		return false
	}
	u, ok := c.(UnsentCounter)
	if !ok {
		return false
	}
	n, err := u.UnsentBytes()
	if err != nil {
		return false
	}
	return n >= f.budget
}

// controlPrefix cuts batches, which are in send order, before the first Data
// batch.
func controlPrefix(batches []*gso.Batch) []*gso.Batch {
	for i, b := range batches {
		if b.Class() != gso.Control {
			return batches[:i]
		}
	}
	return batches
}
