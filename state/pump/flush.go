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
	// The flush in progress: its result so far, and whether its last
	// round held Data back.
	res FlushResult
	cut bool
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
	f.start()
	for {
		batches := f.next(now, q, c)
		if batches == nil {
			return f.res, nil
		}
		n, err := c.Send(batches)
		if done, err := f.sent(q, batches, n, err); done {
			return f.res, err
		}
	}
}

// start begins a flush of rounds that next and sent make.
func (f *flusher) start() {
	f.res, f.cut = FlushResult{}, false
}

// next returns the batches the next round offers the Conn, or nil when the
// flush is over (f.res says why). The queue may take new datagrams until
// sent reports the round: they go to new batches.
func (f *flusher) next(now time.Time, q *gso.Queue, c Conn) []*gso.Batch {
	if q.Empty() {
		return nil
	}
	room, limit := f.dataRoom(now, c)
	if f.cut && room < limit/2 {
		f.hold(limit - room)
		return nil
	}
	batches, held := q.PeekLimit(f.peek[:0], room)
	if len(batches) == 0 {
		_ = q.Advance(0) // release the peek
		if held {
			f.hold(limit - room)
		}
		return nil
	}
	f.cut = held
	return batches
}

func (f *flusher) hold(unsent int) {
	f.res.DataHeld = true
	f.stats.DataHeld++
	f.unsent = unsent
}

// sent takes the Conn's answer to the round's batches: n datagrams taken,
// and its error. done says the flush is over.
func (f *flusher) sent(q *gso.Queue, batches []*gso.Batch, n int, err error) (done bool, _ error) {
	f.budget.handedOff(dataBytes(batches, n))
	if aerr := q.Advance(n); aerr != nil {
		// The Conn claimed more than it was given: a driver bug.
		panic("pump: " + aerr.Error())
	}
	f.res.Datagrams += n
	f.stats.DatagramsSent += uint64(n)
	f.stats.Sends++
	switch {
	case errors.Is(err, ErrWouldBlock):
		f.res.Blocked = true
		f.stats.WouldBlock++
		return true, nil
	case err != nil:
		f.stats.SendErrors++
		f.dropHead(q)
		return true, err
	}
	return false, nil
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
