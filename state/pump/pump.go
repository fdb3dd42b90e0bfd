package pump

import (
	"errors"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// Defaults, and why.
const (
	// DefaultPeekBatches is how many batches one Conn.Send is offered:
	// sendmmsg takes up to 1024 messages, but 64 batches of up to 64
	// segments already exceed any socket buffer, so more buys nothing.
	DefaultPeekBatches = 64
	// DefaultKernelTargetDelay is how long the Data the kernel holds may
	// take to drain: a probe sent next waits about this long. 5 ms is
	// CoDel's target for a standing queue, well under any probe timeout
	// or RTT a path is judged by, and, since the pump refills the kernel
	// when half of it has drained, it leaves the loop 2.5 ms to wake
	// before the link would idle, above the scheduling jitter of a busy
	// host. At 1 Gbit/s it lets the kernel hold 625 KB, more than a
	// default socket buffer, so fast links are not capped; on slow ones
	// the floor (DefaultKernelDataBudget) decides.
	DefaultKernelTargetDelay = 5 * time.Millisecond
	// DefaultKernelDataBudget is the budget's floor, which drivers and the
	// simulator's scenarios use unless told otherwise: about ten 1200-byte
	// datagrams. Below it the budget would cut GSO batches to a few
	// segments and wake the loop for every few datagrams on slow links,
	// where 12 KiB already takes 98 ms at 1 Mbit/s. Config's zero value
	// still means no budget, so a Pump built by hand does only what it is
	// told.
	DefaultKernelDataBudget = 12 << 10
	// DefaultBudgetRecheck is the shortest wait before the kernel queue is
	// measured again when it held Data back, DefaultBudgetRecheckMax the
	// longest. The wait in between is the time the kernel takes, at the
	// measured rate, to drain to half the budget; the bounds guard against
	// a rate not yet known (it starts at the shortest and doubles) and a
	// link that stalled (64 ms keeps it from running dry for long if it
	// comes back).
	DefaultBudgetRecheck    = time.Millisecond
	DefaultBudgetRecheckMax = 64 * time.Millisecond
	// DefaultDataQueueDelay bounds the Data waiting in the pump's queue by
	// its drain time at the measured rate. 25 ms is five times CoDel's
	// 5 ms target and a quarter of its 100 ms interval: a tunnelled TCP
	// sees at most a quarter of a typical round trip added (a 2 MiB byte
	// bound alone is 8 s at 2 Mbit/s), while a program that waits on
	// back-pressure (Pump.DataWritable, released at half the bound) has
	// over 12 ms to refill before the link would idle.
	DefaultDataQueueDelay = 25 * time.Millisecond
	// DefaultDataQueueFloor is the least the delay bound allows: about
	// seven 1200-byte datagrams, so a slow link still batches and a
	// waiting program is not woken for every datagram.
	DefaultDataQueueFloor = 8 << 10
)

// Overflow says what happens to Data past the queue's delay bound.
type Overflow uint8

const (
	// BackPressure refuses the new payload with gso.ErrQueueFull (nothing
	// queued is lost); the program waits until the queue is writable
	// again. For applications that can wait.
	BackPressure Overflow = iota
	// DropHead drops the oldest queued Data (counted in
	// Stats.DataHeadDropped and the queue's HeadDropped) and takes the new
	// payload. For tunnels whose traffic has its own congestion control,
	// which learns of the full path from the loss.
	DropHead
)

// Config of a Pump.
type Config struct {
	// Queue configures the send queue; its Caps come from the Conn.
	Queue gso.Config
	// PeekBatches bounds the batches offered to one Conn.Send.
	PeekBatches int
	// KernelDataBudget is the floor of the kernel budget, in bytes; 0
	// disables the budget. The budget bounds the Data the kernel holds
	// unsent for the socket (SIOCOUTQ, which counts the kernel's
	// per-buffer overhead too) to what drains within KernelTargetDelay at
	// the rate the pump measures, and never below this floor: each flush
	// offers only as much Data as fits beside what is already there, so a
	// probe sent next waits behind at most that much. Only Conns that
	// implement UnsentCounter honour it.
	KernelDataBudget int
	// KernelTargetDelay is the drain time the budget allows; 0 means
	// DefaultKernelTargetDelay.
	KernelTargetDelay time.Duration
	// BudgetRecheck and BudgetRecheckMax bound the wait of held Data
	// before the kernel queue is measured again.
	BudgetRecheck    time.Duration
	BudgetRecheckMax time.Duration
	// DataQueueDelay bounds the Data queued in the pump by its drain time
	// at the measured rate, never below DataQueueFloor bytes; past it,
	// Overflow decides. 0 means DefaultDataQueueDelay, negative disables
	// it (the queue's byte limit still applies). Without a measured rate
	// (a Conn that is no UnsentCounter, or before the first sample) only
	// the byte limit applies.
	DataQueueDelay time.Duration
	DataQueueFloor int
	Overflow       Overflow
	// StreamBytes bounds the bytes waiting for the driver's streams
	// (PollStream); 0 means DefaultStreamBytes.
	StreamBytes int
}

func (c Config) withDefaults() Config {
	if c.PeekBatches <= 0 {
		c.PeekBatches = DefaultPeekBatches
	}
	if c.KernelTargetDelay <= 0 {
		c.KernelTargetDelay = DefaultKernelTargetDelay
	}
	if c.BudgetRecheck <= 0 {
		c.BudgetRecheck = DefaultBudgetRecheck
	}
	if c.BudgetRecheckMax <= 0 {
		c.BudgetRecheckMax = DefaultBudgetRecheckMax
	}
	c.BudgetRecheckMax = max(c.BudgetRecheckMax, c.BudgetRecheck)
	if c.DataQueueDelay == 0 {
		c.DataQueueDelay = DefaultDataQueueDelay
	}
	if c.DataQueueFloor <= 0 {
		c.DataQueueFloor = DefaultDataQueueFloor
	}
	if c.StreamBytes <= 0 {
		c.StreamBytes = DefaultStreamBytes
	}
	return c
}

// Pump is the step every driver and the simulator share: received datagrams
// and expired timers go into the Node, the Node's transmits go into the
// queue, and the queue goes into the Conn until the socket would block. It
// has no goroutine, clock or lock: the caller passes now, and owns the
// Node, the queue and the Pump on one goroutine.
type Pump struct {
	cfg   Config
	node  *node.Node
	queue *gso.Queue
	conn  Conn
	fl    flusher
	stats Stats
	// streams holds what goes to relays over TCP or TLS (streams.go).
	streams streamOutbox

	blocked bool      // the last flush found the socket full
	heldAt  time.Time // Data held for the kernel budget until then
	held    bool
	// recheck is the wait of held Data while the drain rate is unknown.
	recheck  time.Duration
	refusals int // Data transmits the queue refused since the caller last looked
	// emit is enqueueData as a func value made once, so that a batch
	// costs no closure.
	emit func(node.Transmit) bool
}

// New builds a pump over node n and conn c.
func New(n *node.Node, c Conn, cfg Config) *Pump {
	cfg = cfg.withDefaults()
	qcfg := cfg.Queue
	qcfg.Caps = c.Caps()
	p := &Pump{cfg: cfg, node: n, queue: gso.New(qcfg), conn: c, recheck: cfg.BudgetRecheck}
	budget := kernelBudget{floor: max(cfg.KernelDataBudget, 0), target: cfg.KernelTargetDelay}
	p.fl = newFlusher(cfg.PeekBatches, budget, cfg.DataQueueDelay > 0, &p.stats)
	p.emit = p.enqueueData
	return p
}

// Node is the pump's node, for the application's commands and events.
func (p *Pump) Node() *node.Node { return p.node }

// Queue is the pump's send queue, for its counters.
func (p *Pump) Queue() *gso.Queue { return p.queue }

// Stats returns the pump's counters.
func (p *Pump) Stats() Stats { return p.stats }

// HandleMessages feeds received messages into the Node, splitting coalesced
// ones, and calls deliver with each application payload. The payload
// aliases the message buffer: deliver must copy what it keeps.
func (p *Pump) HandleMessages(now time.Time, msgs []Message, deliver func(node.ConnID, []byte)) {
	for i := range msgs {
		m := &msgs[i]
		n := p.node.HandleSegments(now, m.Dst, m.Src, m.Buf[:m.N], m.SegmentSize, deliver)
		p.stats.DatagramsReceived += uint64(n)
	}
	p.collect()
}

// HandleTimeout runs the Node's and the queue's timers.
func (p *Pump) HandleTimeout(now time.Time) {
	p.node.HandleTimeout(now)
	p.queue.HandleTimeout(now)
	if p.held && !now.Before(p.heldAt) {
		p.held = false
	}
	p.collect()
}

// Send hands the application's payload to the Node for connection id. It
// returns gso.ErrQueueFull when the send queue refused Data during the call
// (back-pressure: wait until DataWritable), and the Node's errors for
// misuse.
func (p *Pump) Send(now time.Time, id node.ConnID, payload []byte) error {
	if err := p.node.Send(now, id, payload); err != nil {
		return err
	}
	p.refusals = 0
	p.collect()
	if p.refusals > 0 {
		return gso.ErrQueueFull
	}
	return nil
}

// SendBatch sends payloads in order, as Send does each, and returns how
// many were accepted: it stops at the first one refused for back-pressure
// (gso.ErrQueueFull, that payload and the rest not accepted) or for any
// other error. Each payload is copied once, into the queue's buffers; the
// caller may reuse them when SendBatch returns. The Node hands each Data
// transmit straight to the queue (node.Node.SendBatch), so a payload the
// queue refuses was never sent as far as the Node's counters know.
func (p *Pump) SendBatch(now time.Time, id node.ConnID, payloads [][]byte) (int, error) {
	// Transmits left from before (Data a connection flushed when it
	// connected) go first, so that a flow keeps its order.
	p.collect()
	p.refusals = 0
	n, err := p.node.SendBatch(now, id, payloads, p.emit)
	p.collect()
	if err == nil && (n < len(payloads) || p.refusals > 0) {
		err = gso.ErrQueueFull
	}
	return n, err
}

// enqueueData takes one Data transmit from Node.SendBatch into the queue,
// under the delay bound, and says whether it was accepted: as collect does
// for a Data transmit, a datagram no socket can send is counted as dropped
// and does not stop the batch.
func (p *Pump) enqueueData(t node.Transmit) bool {
	if taken, ok := p.toStream(t); taken {
		return ok
	}
	if !p.admitData(len(t.Payload)) {
		p.refusals++
		p.stats.DataRefused++
		p.stats.DataDelayRefused++
		return false
	}
	err := p.queue.Enqueue(t.Src, t.Dst, t.Payload, t.Class, t.ECN)
	switch {
	case err == nil:
	case errors.Is(err, gso.ErrQueueFull):
		p.refusals++
		p.stats.DataRefused++
		return false
	default:
		p.stats.DataDropped++
	}
	return true
}

// collect moves the Node's transmits into the queue. It must run after
// every call into the Node, before the caller reuses a buffer it passed to
// Send (Data transmits alias it).
func (p *Pump) collect() {
	for {
		t, ok := p.node.PollTransmit()
		if !ok {
			return
		}
		if taken, _ := p.toStream(t); taken {
			continue
		}
		if t.Class == gso.Data && !p.admitData(len(t.Payload)) {
			p.refusals++
			p.stats.DataRefused++
			p.stats.DataDelayRefused++
			continue
		}
		err := p.queue.Enqueue(t.Src, t.Dst, t.Payload, t.Class, t.ECN)
		switch {
		case err == nil:
		case errors.Is(err, gso.ErrQueueFull) && t.Class == gso.Data:
			p.refusals++
			p.stats.DataRefused++
		case t.Class == gso.Control:
			p.stats.ControlDropped++
		default:
			p.stats.DataDropped++
		}
	}
}

// dataBound is the most Data payload the queue may hold by the delay
// bound, or 0 when there is none (disabled, or no rate measured yet).
func (p *Pump) dataBound() int {
	if p.cfg.DataQueueDelay <= 0 || p.fl.budget.rate <= 0 {
		return 0
	}
	b := p.fl.budget.rate * p.cfg.DataQueueDelay.Seconds()
	return max(p.cfg.DataQueueFloor, int(min(b, 1<<40)))
}

// admitData applies the delay bound to n more bytes of Data: under
// BackPressure it says whether they fit, under DropHead it drops the
// oldest Data until they do and admits them.
func (p *Pump) admitData(n int) bool {
	bound := p.dataBound()
	if bound == 0 {
		return true
	}
	for p.queue.QueuedBytes(gso.Data)+n > bound && p.queue.QueuedBytes(gso.Data) > 0 {
		if p.cfg.Overflow != DropHead {
			return false
		}
		d, _ := p.queue.DropOldestData()
		if d == 0 {
			break
		}
		p.stats.DataHeadDropped += uint64(d)
	}
	return true
}

// DataWritable reports whether Data would be taken again after a refusal:
// the queued Data is at most half of each bound (delay and bytes), so a
// program woken by it has room for a run of payloads, not one.
func (p *Pump) DataWritable() bool {
	if b := p.dataBound(); b > 0 && p.queue.QueuedBytes(gso.Data) > b/2 {
		return false
	}
	return p.queue.HeldBytes(gso.Data) <= p.queue.DataLimit()/2
}

// Flush sends what is queued until the queue is empty, the socket would
// block, or the kernel budget holds Data back. After Blocked, call
// SetWritable when the socket can take more; after DataHeld, PollTimeout
// says when to flush again.
func (p *Pump) Flush(now time.Time) (FlushResult, error) {
	p.collect()
	if p.blocked {
		return FlushResult{Blocked: true}, nil
	}
	res, err := p.fl.flush(now, p.queue, p.conn)
	p.finish(now, res)
	return res, err
}

// StartFlush begins a flush whose Conn.Send calls the caller makes, one
// round at a time, possibly on another goroutine, so that it can go on
// taking commands and datagrams while the kernel copies: NextSend returns
// the batches of a round, the caller hands them to Conn.Send, and Sent
// reports its answer. Between NextSend and Sent the caller may call Send,
// SendBatch, HandleMessages and HandleTimeout (what they queue goes to new
// batches), but not Flush, StartFlush or NextSend. Flush is the same
// thing with the Conn called in place.
func (p *Pump) StartFlush(now time.Time) {
	p.collect()
	p.fl.start()
}

// NextSend returns the batches for the flush's next Conn.Send, or nil when
// the flush is over; then EndFlush gives its result.
func (p *Pump) NextSend(now time.Time) []*gso.Batch {
	if p.blocked {
		p.fl.res.Blocked = true
		return nil
	}
	return p.fl.next(now, p.queue, p.conn)
}

// Sent reports what Conn.Send did with the batches NextSend returned. done
// says the flush is over (the socket would block, or the send failed with
// err); otherwise call NextSend again.
func (p *Pump) Sent(batches []*gso.Batch, n int, err error) (done bool, _ error) {
	return p.fl.sent(p.queue, batches, n, err)
}

// EndFlush ends the flush and returns its result.
func (p *Pump) EndFlush(now time.Time) FlushResult {
	res := p.fl.res
	p.finish(now, res)
	return res
}

func (p *Pump) finish(now time.Time, res FlushResult) {
	// Stamp the buffers the flush freed with the time, so the queue can
	// release them when they have been idle long enough.
	p.queue.HandleTimeout(now)
	p.blocked = res.Blocked
	p.held = res.DataHeld
	if res.DataHeld {
		wait := p.recheckWait()
		p.heldAt = now.Add(wait)
		p.stats.BudgetRecheckWait = wait
	}
	p.stats.KernelDrainRate = uint64(p.fl.budget.rate)
	if p.fl.budget.floor > 0 {
		p.stats.KernelDataLimit = p.fl.budget.limit()
	}
}

// recheckWait is how long held Data waits before the kernel queue is
// measured again: the time it takes, at the measured rate, to drain to half
// the budget, within BudgetRecheck and BudgetRecheckMax. While the rate is
// unknown the wait starts at BudgetRecheck and doubles.
func (p *Pump) recheckWait() time.Duration {
	lo, hi := p.cfg.BudgetRecheck, p.cfg.BudgetRecheckMax
	excess := p.fl.unsent - p.fl.budget.limit()/2
	if d, ok := p.fl.budget.drainTime(max(excess, 0)); ok {
		p.recheck = lo
		return min(max(d, lo), hi)
	}
	w := p.recheck
	p.recheck = min(2*p.recheck, hi)
	return w
}

// SetWritable tells the pump the socket can take more after a Blocked flush.
func (p *Pump) SetWritable() { p.blocked = false }

// WantsWritable reports whether the pump waits for the socket to drain.
func (p *Pump) WantsWritable() bool { return p.blocked && !p.queue.Empty() }

// PollTimeout returns when HandleTimeout (and then Flush) must next run and
// why: the Node's timers, the queue's buffer release, or held Data.
func (p *Pump) PollTimeout() (time.Time, string, bool) {
	at, reason, ok := p.node.PollTimeout()
	if q, qreason, qok := p.queue.PollTimeout(); qok && (!ok || q.Before(at)) {
		at, reason, ok = q, qreason, true
	}
	if p.held && (!ok || p.heldAt.Before(at)) {
		at, reason, ok = p.heldAt, "kernel-budget", true
	}
	return at, reason, ok
}
