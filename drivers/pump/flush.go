package pump

import (
	"errors"
	"math"
	"time"

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
	// DataHeld: Data is queued but the kernel already holds as much unsent
	// Data as the budget allows, so only Control was sent. Kernels give no
	// signal when their queue shrinks; PollTimeout says when to look again.
	DataHeld bool
}

// flusher moves batches from the queue into a Conn. It owns the slice it
// peeks into, so flushing allocates nothing.
type flusher struct {
	peek   []*gso.Batch
	budget kernelBudget
	// measure: read the kernel queue even without a budget, for the
	// drain rate a delay bound on the pump's queue needs.
	measure bool
	// unsent is the kernel queue the last flush left, when it held Data.
	unsent int
	stats  *Stats
}

func newFlusher(maxBatches int, budget kernelBudget, measure bool, stats *Stats) flusher {
	return flusher{peek: make([]*gso.Batch, 0, maxBatches), budget: budget, measure: measure, stats: stats}
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
//
// After a round the budget cut short, the kernel is measured again at once:
// on a link that drains as fast as it is fed (loopback, a veth, a fast NIC)
// the queue is already empty and the flush goes on, so the budget costs
// such links nothing. It stops only when the kernel still holds more than
// half the budget, and then PollTimeout says when it will have drained to
// half.
func (f *flusher) flush(now time.Time, q *gso.Queue, c Conn) (FlushResult, error) {
	var res FlushResult
	cut := false // the previous round held Data back
	for !q.Empty() {
		room, limit := f.dataRoom(now, c)
		if cut && room < limit/2 {
			res.DataHeld = true
			f.stats.DataHeld++
			f.unsent = limit - room
			return res, nil
		}
		batches, held := q.PeekLimit(f.peek[:0], room)
		if held && len(batches) == 0 {
			_ = q.Advance(0) // release the peek
			res.DataHeld = true
			f.stats.DataHeld++
			f.unsent = limit - room
			return res, nil
		}
		n, err := c.Send(batches)
		f.budget.handedOff(dataBytes(batches, n))
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
		cut = held
	}
	return res, nil
}

// dataBytes is the Data payload in the first n datagrams of batches.
func dataBytes(batches []*gso.Batch, n int) int {
	total := 0
	for _, b := range batches {
		if n <= 0 {
			break
		}
		k := min(n, b.Segments())
		n -= k
		if b.Class() != gso.Data {
			continue
		}
		if k == b.Segments() {
			total += len(b.Payload())
		} else {
			total += k * b.SegmentSize()
		}
	}
	return total
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

// dataRoom measures the kernel queue and returns how many bytes of Data the
// kernel may be given now (the budget's limit less what it holds unsent)
// and the limit. Without a budget, or a Conn that cannot tell, there is no
// limit.
func (f *flusher) dataRoom(now time.Time, c Conn) (room, limit int) {
	if f.budget.floor <= 0 && !f.measure {
		return math.MaxInt, math.MaxInt
	}
	u, ok := c.(UnsentCounter)
	if !ok {
		return math.MaxInt, math.MaxInt
	}
	n, err := u.UnsentBytes()
	if err != nil {
		return math.MaxInt, math.MaxInt
	}
	f.budget.observe(now, n)
	if f.budget.floor <= 0 {
		return math.MaxInt, math.MaxInt
	}
	limit = f.budget.limit()
	return max(limit-n, 0), limit
}
