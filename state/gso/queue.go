package gso

import (
	"math"
	"net/netip"
	"time"

	"github.com/google/btree"
	"github.com/peerlink/peerlink/state/timer"
)

// flowKey identifies a flow: datagrams that must never be reordered among
// themselves and may share a GSO batch.
type flowKey struct {
	src, dst netip.AddrPort
	ecn      ECN
	class    Class
}

// btreeDegree keeps nodes around a cache line or two of pointers; the tree
// rarely holds more than a few hundred batches.
const btreeDegree = 8

// Queue is the ordered send queue. It is not safe for concurrent use: the
// pump owns it.
type Queue struct {
	cfg   Config
	tree  *btree.BTreeG[*Batch]
	flows map[flowKey]*Batch // the newest batch of each flow with one queued
	seq   uint64

	// last caches the most recent flow lookup: bulk senders enqueue runs of
	// one flow, and the cache spares them a map lookup per datagram.
	lastKey   flowKey
	lastBatch *Batch

	held    [numClasses]int // buffer bytes held by queued batches
	queued  [numClasses]int // payload bytes queued and not yet sent
	bufs    bufPool
	batches []*Batch // free Batch structs
	peeked  []*Batch // the batches of the last Peek, in send order
	peekFn  func(*Batch) bool
	dropFn  func(*Batch) bool
	dropped *Batch // the batch dropFn found
	peekDst []*Batch
	peekMax int
	// The current PeekLimit's Data budget, and whether it held Data back.
	peekData int
	peekHeld bool
	lastNow  time.Time
	stats    Stats

	// fault breaks one rule on purpose. Only the package's tests set it, to
	// show that the properties guarding each rule catch its violation.
	fault fault
}

type fault uint8

const (
	faultNone                  fault = iota
	faultIgnoreMaxSegments           // batches grow past Caps.MaxSegments
	faultIgnoreSegmentSize           // a longer datagram may extend a batch
	faultIgnoreByteLimit             // Data is never refused
	faultIgnoreDataBudget            // PeekLimit offers all Data
	faultWholeSegmentsInBudget       // PeekLimit offers a segment only if it fits whole
)

// New returns an empty queue.
func New(cfg Config) *Queue {
	cfg = cfg.withDefaults()
	q := &Queue{
		cfg:   cfg,
		flows: make(map[flowKey]*Batch),
	}
	q.tree = btree.NewWithFreeListG(btreeDegree, lessFor(cfg.Policy), btree.NewFreeListG[*Batch](btree.DefaultFreeListSize))
	q.peekFn = q.collectPeek
	q.dropFn = q.findOldestData
	return q
}

func lessFor(p Policy) btree.LessFunc[*Batch] {
	switch p {
	case ControlFirst:
		return func(a, b *Batch) bool {
			if a.class != b.class {
				return a.class < b.class
			}
			return a.seq < b.seq
		}
	case FIFO:
		return func(a, b *Batch) bool { return a.seq < b.seq }
	case SmallestSegmentFirst:
		return func(a, b *Batch) bool {
			if a.segSize != b.segSize {
				return a.segSize < b.segSize
			}
			return a.seq < b.seq
		}
	}
	panic("gso: unknown policy")
}

// Caps returns the caps the queue builds batches within.
func (q *Queue) Caps() Caps { return q.cfg.Caps }

// Len is the number of queued batches.
func (q *Queue) Len() int { return q.tree.Len() }

// Empty reports whether nothing is queued.
func (q *Queue) Empty() bool { return q.tree.Len() == 0 }

// Enqueue copies payload into the queue as one datagram from src to dst. src
// may be the zero AddrPort to let the kernel pick the source.
//
// It returns ErrQueueFull when the class's byte bound is reached (the
// datagram is not queued and the refusal is counted), and ErrEmptyDatagram,
// ErrDatagramTooLarge, ErrInvalidClass, ErrInvalidECN or ErrInvalidAddr for
// input no socket could send.
func (q *Queue) Enqueue(src, dst netip.AddrPort, payload []byte, class Class, ecn ECN) error {
	if class >= numClasses {
		return ErrInvalidClass
	}
	if ecn > CE {
		return ErrInvalidECN
	}
	n := len(payload)
	if n == 0 {
		return ErrEmptyDatagram
	}
	// A batch of the flow exists only for a valid destination, and a datagram
	// no longer than its segments is within the size limit: the common case
	// needs no more checks. The last flow is compared field by field, not
	// as a flowKey built here: copying a struct just written costs the CPU
	// a store-forwarding stall, tens of nanoseconds a datagram.
	b := q.lastBatch
	if b == nil || q.lastKey.dst != dst || q.lastKey.src != src || q.lastKey.class != class || q.lastKey.ecn != ecn {
		b = q.newestOf(flowKey{src: src, dst: dst, ecn: ecn, class: class})
	}
	if b != nil && q.fits(b, n) {
		b.buf = append(b.buf, payload...)
		b.end = len(b.buf)
		b.segCount++
		if n < b.segSize || (b.segCount == q.cfg.Caps.MaxSegments && q.fault != faultIgnoreMaxSegments) || len(b.buf)+b.segSize > b.limit {
			b.sealed = true
		}
		q.countIn(class, n)
		return nil
	}
	if !dst.IsValid() || dst.Port() == 0 {
		return ErrInvalidAddr
	}
	if n > MaxBytesFor(dst) {
		return ErrDatagramTooLarge
	}
	limit := q.batchLimit(dst, n)
	sc := sizeClass(limit)
	if q.held[class]+classBytes(sc) > q.byteLimit(class) && q.fault != faultIgnoreByteLimit {
		q.stats.Classes[class].Refused++
		q.stats.Classes[class].RefusedBytes += uint64(n)
		return ErrQueueFull
	}
	b = q.newBatch()
	*b = Batch{
		src: src, dst: dst, ecn: ecn, class: class,
		seq: q.seq, segSize: n, limit: limit,
		buf: append(q.bufs.get(sc), payload...), segCount: 1,
	}
	b.end = len(b.buf)
	q.seq++
	b.sealed = (q.cfg.Caps.MaxSegments == 1 && q.fault != faultIgnoreMaxSegments) || 2*n > limit
	q.held[class] += cap(b.buf)
	if _, replaced := q.tree.ReplaceOrInsert(b); replaced {
		panic("gso: two batches with one sequence number")
	}
	key := flowKey{src: src, dst: dst, ecn: ecn, class: class}
	q.flows[key] = b
	q.lastKey, q.lastBatch = key, b
	q.countIn(class, n)
	return nil
}

// batchLimit is the most payload a new batch of n-byte datagrams toward dst
// may hold.
func (q *Queue) batchLimit(dst netip.AddrPort, n int) int {
	if q.fault == faultIgnoreMaxSegments {
		return MaxBytesFor(dst)
	}
	return min(MaxBytesFor(dst), n*q.cfg.Caps.MaxSegments)
}

func (q *Queue) newestOf(key flowKey) *Batch {
	if q.lastBatch != nil && q.lastKey == key {
		return q.lastBatch
	}
	b := q.flows[key]
	if b != nil {
		q.lastKey, q.lastBatch = key, b
	}
	return b
}

// fits says whether a datagram of n bytes may extend batch b.
func (q *Queue) fits(b *Batch, n int) bool {
	if q.fault != faultNone {
		return q.faultyFits(b, n)
	}
	return !b.sealed && n <= b.segSize && b.segCount < q.cfg.Caps.MaxSegments && len(b.buf)+n <= b.limit
}

func (q *Queue) faultyFits(b *Batch, n int) bool {
	room := len(b.buf)+n <= cap(b.buf)
	switch q.fault {
	case faultIgnoreMaxSegments:
		return !b.sealed && n <= b.segSize && room
	case faultIgnoreSegmentSize:
		return !b.sealed && b.segCount < q.cfg.Caps.MaxSegments && len(b.buf)+n <= b.limit && room
	}
	return !b.sealed && n <= b.segSize && b.segCount < q.cfg.Caps.MaxSegments && len(b.buf)+n <= b.limit
}

func (q *Queue) byteLimit(c Class) int {
	if c == Control {
		return q.cfg.ControlByteLimit
	}
	return q.cfg.DataByteLimit
}

func (q *Queue) countIn(c Class, n int) {
	cs := &q.stats.Classes[c]
	cs.DatagramsIn++
	cs.BytesIn += uint64(n)
	q.queued[c] += n
}

func (q *Queue) newBatch() *Batch {
	if n := len(q.batches); n > 0 {
		b := q.batches[n-1]
		q.batches[n-1] = nil
		q.batches = q.batches[:n-1]
		return b
	}
	return new(Batch)
}

// Peek appends to dst, up to its capacity, the queued batches in the order
// they must leave, and returns it. Peeked batches are sealed: nothing is
// appended to a batch the driver may be sending. The driver then reports what
// the kernel took with Advance; datagrams enqueued in between go to new
// batches and do not disturb the count.
func (q *Queue) Peek(dst []*Batch) []*Batch {
	dst, _ = q.PeekLimit(dst, math.MaxInt)
	return dst
}

// PeekLimit is Peek with a budget for Data: Control batches are offered in
// full, Data one segment at a time while the Data offered so far is below
// dataBytes, so the last offered segment may cross the budget (by less than
// one segment) and no datagram is too large ever to leave. The last Data
// batch is cut at a segment boundary if need be (its Payload and Segments
// then cover the offered prefix). held reports that Data stayed back. A
// kernel queue budget uses it so that a probe sent next waits behind at
// most the budget plus one datagram of Data.
func (q *Queue) PeekLimit(dst []*Batch, dataBytes int) (batches []*Batch, held bool) {
	q.peeked = q.peeked[:0]
	q.peekDst = dst
	q.peekMax = cap(dst) - len(dst)
	q.peekData = dataBytes
	q.peekHeld = false
	if q.peekMax > 0 {
		q.tree.Ascend(q.peekFn)
	}
	dst, held = q.peekDst, q.peekHeld
	q.peekDst = nil
	return dst, held
}

func (q *Queue) collectPeek(b *Batch) bool {
	b.end = len(b.buf)
	if b.class == Data && q.fault != faultIgnoreDataBudget {
		if q.peekData <= 0 || (q.fault == faultWholeSegmentsInBudget && q.peekData < b.segSize) {
			// Nothing after this batch is offered: under ControlFirst only
			// Data follows, and the comparison policies, which know no
			// classes, let nothing overtake it.
			q.peekHeld = true
			return false
		}
		if avail := len(b.buf) - b.off; avail > q.peekData {
			// Whole segments while the offered bytes are below the budget:
			// the last may cross it, so a datagram larger than the whole
			// budget still leaves once the budget has room.
			k := (q.peekData + b.segSize - 1) / b.segSize
			b.end = min(b.off+k*b.segSize, len(b.buf))
			q.peekHeld = b.end < len(b.buf)
		}
		q.peekData -= b.end - b.off
	}
	b.sealed = true
	q.peekDst = append(q.peekDst, b)
	q.peeked = append(q.peeked, b)
	return len(q.peeked) < q.peekMax && !q.peekHeld
}

// Advance removes the first n datagrams of the last Peek, in its order: the
// kernel has taken them. A batch taken in part keeps its unsent segments at
// the head of the queue. Advance(0) is valid (nothing was sent). It returns
// ErrAdvance, and changes nothing, when n exceeds what was peeked.
func (q *Queue) Advance(n int) error {
	total := 0
	for _, b := range q.peeked {
		total += b.Segments()
	}
	if n < 0 || n > total {
		return ErrAdvance
	}
	for _, b := range q.peeked {
		if n == 0 {
			break
		}
		k := min(n, b.Segments())
		n -= k
		if k < b.unsentSegments() {
			sent := k * b.segSize
			q.countOut(b, k, sent)
			b.off += sent
			b.end = max(b.end, b.off)
			q.peeked = q.peeked[:0] // nothing after a batch sent in part was sent
			if n > 0 {
				panic("gso: datagrams advanced past a batch sent in part")
			}
			return nil
		}
		q.countOut(b, k, len(b.buf)-b.off)
		q.remove(b)
	}
	q.peeked = q.peeked[:0]
	return nil
}

func (q *Queue) countOut(b *Batch, datagrams, bytes int) {
	cs := &q.stats.Classes[b.class]
	cs.DatagramsOut += uint64(datagrams)
	cs.BytesOut += uint64(bytes)
	q.queued[b.class] -= bytes
}

func (q *Queue) remove(b *Batch) {
	q.unlink(b)
	q.stats.Batches++
	q.stats.SegmentsPerBatch[segmentBucket(b.segCount)]++
	q.release(b)
}

// unlink takes b out of the tree and the flow index.
func (q *Queue) unlink(b *Batch) {
	if _, ok := q.tree.Delete(b); !ok {
		panic("gso: sent batch was not queued")
	}
	key := flowKey{src: b.src, dst: b.dst, ecn: b.ecn, class: b.class}
	if q.flows[key] == b {
		delete(q.flows, key)
	}
	if q.lastBatch == b {
		q.lastBatch = nil
	}
}

// release returns a batch that left the tree to the pools.
func (q *Queue) release(b *Batch) {
	q.held[b.class] -= cap(b.buf)
	q.bufs.put(b.buf)
	*b = Batch{}
	q.batches = append(q.batches, b)
}

// HandleTimeout releases pooled buffers that sat unused for IdleBufferTTL.
func (q *Queue) HandleTimeout(now time.Time) {
	if now.After(q.lastNow) {
		q.lastNow = now
	}
	q.bufs.expire(q.lastNow, q.cfg.IdleBufferTTL)
}

// PollTimeout returns when HandleTimeout next has buffers to release, and
// why (the reason label, as every sub-machine's PollTimeout gives one).
func (q *Queue) PollTimeout() (time.Time, string, bool) {
	var next timer.Next
	for c := range q.bufs.free {
		s := q.bufs.free[c]
		if len(s) == 0 {
			continue
		}
		at := s[0].freedAt
		if at.IsZero() {
			at = q.lastNow // freed since the last HandleTimeout
		}
		next.Offer(at.Add(q.cfg.IdleBufferTTL), "gso: idle-buffers")
	}
	return next.Poll()
}
