package pump

import (
	"errors"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/timer"
)

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

	blocked bool // the last flush found the socket full
	// flushing: a flush is in progress; round: its batches are with the
	// caller's Conn.Send (Step handed them out, Sent not yet called);
	// ended: Sent said the flush is over, with sendErr.
	flushing, ended bool
	round           []*gso.Batch
	sendErr         error
	// controlSeen is the queue's Control DatagramsIn at the last Step.
	controlSeen uint64
	heldAt      time.Time // Data held for the kernel budget until then
	held        bool
	// recheck is the wait of held Data while the drain rate is unknown.
	recheck  time.Duration
	refusals int // Data transmits the queue refused since the caller last looked
	// queueRefused: the queue refused Data since Writable last reported
	// room (the stream outbox keeps its own).
	queueRefused bool
	// emit is enqueueData as a func value made once, so that a batch
	// costs no closure.
	emit node.Emit
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
// returns gso.ErrQueueFull when the send queue, or the stream of a relay
// over TCP or TLS, refused Data during the call (back-pressure: wait until
// Writable), and the Node's errors for misuse.
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

// enqueueData takes a run of Data payloads from Node.SendBatch into the
// queue, under the delay bound, and returns how many it accepted: as
// collect does for a Data transmit, a datagram no socket can send is
// counted as dropped and does not stop the run.
func (p *Pump) enqueueData(t node.Transmit, payloads [][]byte) int {
	if t.Transport != node.UDP {
		for i, b := range payloads {
			t.Payload = b
			if _, ok := p.toStream(t); !ok {
				return i
			}
		}
		return len(payloads)
	}
	bound := p.dataBound()
	for i, b := range payloads {
		if !p.admitDataUnder(bound, len(b)) {
			p.refuseData()
			p.stats.DataDelayRefused++
			return i
		}
		err := p.queue.Enqueue(t.Src, t.Dst, b, t.Class, t.ECN)
		switch {
		case err == nil:
		case errors.Is(err, gso.ErrQueueFull):
			p.refuseData()
			return i
		default:
			p.stats.DataDropped++
		}
	}
	return len(payloads)
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
			p.refuseData()
			p.stats.DataDelayRefused++
			continue
		}
		err := p.queue.Enqueue(t.Src, t.Dst, t.Payload, t.Class, t.ECN)
		switch {
		case err == nil:
		case errors.Is(err, gso.ErrQueueFull) && t.Class == gso.Data:
			p.refuseData()
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
func (p *Pump) admitData(n int) bool { return p.admitDataUnder(p.dataBound(), n) }

// admitDataUnder is admitData with the bound already read: a run of
// payloads reads it once.
func (p *Pump) admitDataUnder(bound, n int) bool {
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

// refuseData counts a Data transmit the queue refused for back-pressure.
func (p *Pump) refuseData() {
	p.refusals++
	p.stats.DataRefused++
	p.queueRefused = true
}

// Writable reports whether a program refused for back-pressure may send
// again: each place that refused Data since the program was last told so
// has room again (the queue: DataWritable; a stream: StreamWritable). A
// place that refused nothing does not count, so a stream stuck on one
// relay does not hold back a program whose Data the queue refused, nor the
// other way round. When it reports true it forgets those refusals.
func (p *Pump) Writable() bool {
	if p.queueRefused && !p.DataWritable() || !p.StreamWritable() {
		return false
	}
	p.ForgetRefusals()
	return true
}

// ForgetRefusals clears the record of where Data was refused. A driver
// calls it before a program's send when no program waits on back-pressure:
// refusals of Data the Node made on its own, or of a program that has
// since been told it may send, must not make the next one wait on a place
// it never used.
func (p *Pump) ForgetRefusals() {
	p.queueRefused = false
	p.streams.forgetRefusals()
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

// PollTimeout returns when HandleTimeout (and then Step) must next run and
// why: the Node's timers, the queue's buffer release, or held Data.
func (p *Pump) PollTimeout() (time.Time, string, bool) {
	var next timer.Next
	next.OfferIf(p.node.PollTimeout())
	next.OfferIf(p.queue.PollTimeout())
	next.OfferIf(p.heldAt, "pump: kernel-budget", p.held)
	return next.Poll()
}
