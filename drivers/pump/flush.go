package pump

import (
	"errors"
	"math"

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
	// no signal when their queue shrinks; PollTimeout says when to look
	// again (Config.BudgetRecheck).
	DataHeld bool
}

// flusher moves batches from the queue into a Conn. It owns the slice it
// peeks into, so flushing allocates nothing.
type flusher struct {
	peek   []*gso.Batch
	budget int // kernel Data budget in bytes; 0 = no budget
	// firstRoom is the room the last flush found before it sent anything;
	// measured says it read the kernel's queue at all.
	firstRoom int
	measured  bool
	stats     *Stats
}

func newFlusher(maxBatches, budget int, stats *Stats) flusher {
	return flusher{peek: make([]*gso.Batch, 0, maxBatches), budget: budget, stats: stats}
}

// flush sends until the queue is empty, the socket would block, Data is held
// back by the kernel budget, or the Conn fails. Whatever the Conn did not
// take stays queued in order.
//
// With a budget, each round offers the kernel only as much Data as the
// budget leaves room for beside what the kernel already holds unsent, so a
// probe sent next waits behind at most the budget (plus one Control batch).
// Checking the budget only before a send is not enough: once below it, one
// send would hand the kernel a whole socket buffer of Data.
func (f *flusher) flush(q *gso.Queue, c Conn) (FlushResult, error) {
	var res FlushResult
	f.measured = false
	for first := true; !q.Empty(); first = false {
		room, ok := f.dataRoom(c)
		if first {
			f.firstRoom, f.measured = room, ok
		}
		batches, held := q.PeekLimit(f.peek[:0], room)
		if held {
			res.DataHeld = true
			f.stats.DataHeld++
		}
		if len(batches) == 0 {
			_ = q.Advance(0) // release the peek
			return res, nil
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
			f.dropHead(q)
			return res, err
		}
		if held {
			// The kernel has what the budget allows; measuring again at
			// once would find it barely drained. PollTimeout schedules the
			// next look.
			return res, nil
		}
	}
	return res, nil
}

// dropHead drops the batch a send failed on. The Conn sends in order and
// stops at the first datagram the kernel refused, so after advancing by what
// it took, that datagram heads the queue. Keeping it would retry the same
// refusal on every flush (a segment above the path MTU, a source address
// that no longer exists) and hold everything behind it for ever; dropping
// it is what the network would have done to the datagram, and it is
// counted.
func (f *flusher) dropHead(q *gso.Queue) {
	head := q.Peek(f.peek[:0:1])
	if len(head) == 0 {
		return
	}
	n := head[0].Segments()
	if head[0].Class() == gso.Control {
		f.stats.ControlSendDropped += uint64(n)
	} else {
		f.stats.DataSendDropped += uint64(n)
	}
	if err := q.Advance(n); err != nil {
		panic("pump: " + err.Error())
	}
}

// dataRoom is how many bytes of Data the kernel may be given now: the budget
// less what it holds unsent; measured says the kernel was asked. Without a
// budget, or a Conn that cannot tell, there is no limit.
func (f *flusher) dataRoom(c Conn) (room int, measured bool) {
	if f.budget <= 0 {
		return math.MaxInt, false
	}
	u, ok := c.(UnsentCounter)
	if !ok {
		return math.MaxInt, false
	}
	n, err := u.UnsentBytes()
	if err != nil {
		return math.MaxInt, false
	}
	return max(f.budget-n, 0), true
}
