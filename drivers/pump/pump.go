package pump

import (
	"errors"
	"net/netip"
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
	// DefaultBudgetRecheck is the shortest wait before the kernel queue is
	// measured again when it was over budget. 1 ms is the time a
	// 100 Mbit/s link needs for about 12 KB, so the kernel queue cannot run
	// dry for long while Data waits.
	DefaultBudgetRecheck = time.Millisecond
	// DefaultBudgetRecheckMax is the longest. The wait adapts between the
	// two to the link (see Config.BudgetRecheckMax): a 12 KiB budget takes
	// 98 ms to drain at 1 Mbit/s, and measuring it every millisecond there
	// costs a thousand wake-ups a second for nothing. 64 ms keeps a link
	// that suddenly speeds up from running dry for more than a few checks.
	DefaultBudgetRecheckMax = 64 * time.Millisecond
	// DefaultKernelDataBudget is the budget drivers and the simulator's
	// scenarios use unless told otherwise: about ten 1200-byte datagrams, or
	// 1 ms of a 100 Mbit/s link, ahead of a probe. Config's zero value still
	// means no budget, so a Pump built by hand does only what it is told.
	DefaultKernelDataBudget = 12 << 10
)

// Config of a Pump.
type Config struct {
	// Queue configures the send queue; its Caps come from the Conn.
	Queue gso.Config
	// PeekBatches bounds the batches offered to one Conn.Send.
	PeekBatches int
	// KernelDataBudget bounds the Data the kernel holds unsent for the
	// socket (SIOCOUTQ, which counts the kernel's per-buffer overhead too):
	// each flush offers only as much Data as fits beside what is already
	// there, so a probe sent next waits behind at most this much. 0
	// disables the budget. Only Conns that implement UnsentCounter honour
	// it. A budget trades throughput on fast links for probe latency: the
	// kernel queue can run dry for up to BudgetRecheck, so keep
	// budget/BudgetRecheck above the link rate.
	KernelDataBudget int
	// BudgetRecheck is the shortest wait of held Data before the kernel
	// queue is measured again, BudgetRecheckMax the longest. The wait
	// starts at BudgetRecheck and adapts to the link: it doubles while a
	// recheck finds less than a quarter of the budget drained (measured
	// too early), and halves when it finds more than three quarters
	// drained (the kernel was about to run dry). Only the rechecks adapt
	// it; a flush for any other reason measures the kernel anyway.
	BudgetRecheck    time.Duration
	BudgetRecheckMax time.Duration
}

func (c Config) withDefaults() Config {
	if c.PeekBatches <= 0 {
		c.PeekBatches = DefaultPeekBatches
	}
	if c.BudgetRecheck <= 0 {
		c.BudgetRecheck = DefaultBudgetRecheck
	}
	if c.BudgetRecheckMax <= 0 {
		c.BudgetRecheckMax = DefaultBudgetRecheckMax
	}
	c.BudgetRecheckMax = max(c.BudgetRecheckMax, c.BudgetRecheck)
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

	blocked bool      // the last flush found the socket full
	heldAt  time.Time // Data held for the kernel budget until then
	held    bool
	// recheck is the current wait of held Data; rechecking is set from
	// the moment it expires until the flush that measures the kernel.
	recheck    time.Duration
	rechecking bool
	refusals   int // Data transmits the queue refused since the caller last looked
}

// New builds a pump over node n and conn c.
func New(n *node.Node, c Conn, cfg Config) *Pump {
	cfg = cfg.withDefaults()
	qcfg := cfg.Queue
	qcfg.Caps = c.Caps()
	p := &Pump{cfg: cfg, node: n, queue: gso.New(qcfg), conn: c, recheck: cfg.BudgetRecheck}
	p.fl = newFlusher(cfg.PeekBatches, cfg.KernelDataBudget, &p.stats)
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
		b := m.Buf[:m.N]
		seg := m.SegmentSize
		if seg <= 0 || seg > len(b) {
			seg = len(b)
		}
		for len(b) > 0 {
			n := min(seg, len(b))
			p.handleDatagram(now, m.Dst, m.Src, b[:n], deliver)
			b = b[n:]
		}
	}
	p.collect()
}

func (p *Pump) handleDatagram(now time.Time, local, remote netip.AddrPort, b []byte, deliver func(node.ConnID, []byte)) {
	p.stats.DatagramsReceived++
	if id, payload, ok := p.node.HandleDatagram(now, local, remote, b); ok && deliver != nil {
		deliver(id, payload)
	}
}

// HandleTimeout runs the Node's and the queue's timers.
func (p *Pump) HandleTimeout(now time.Time) {
	p.node.HandleTimeout(now)
	p.queue.HandleTimeout(now)
	if p.held && !now.Before(p.heldAt) {
		p.held, p.rechecking = false, true
	}
	p.collect()
}

// Send hands the application's payload to the Node for connection id. It
// returns gso.ErrQueueFull when the send queue refused Data during the call
// (back-pressure: wait until the socket drains), and the Node's errors for
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

// collect moves the Node's transmits into the queue. It must run after
// every call into the Node, before the caller reuses a buffer it passed to
// Send (Data transmits alias it).
func (p *Pump) collect() {
	for {
		t, ok := p.node.PollTransmit()
		if !ok {
			return
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

// Flush sends what is queued until the queue is empty, the socket would
// block, or the kernel budget holds Data back. After Blocked, call
// SetWritable when the socket can take more; after DataHeld, PollTimeout
// says when to flush again.
func (p *Pump) Flush(now time.Time) (FlushResult, error) {
	p.collect()
	if p.blocked {
		return FlushResult{Blocked: true}, nil
	}
	res, err := p.fl.flush(p.queue, p.conn)
	// Stamp the buffers the flush freed with the time, so the queue can
	// release them when they have been idle long enough.
	p.queue.HandleTimeout(now)
	p.blocked = res.Blocked
	if p.rechecking && p.fl.measured {
		p.adaptRecheck(p.fl.firstRoom)
	}
	p.rechecking = false
	if res.DataHeld {
		p.held, p.heldAt = true, now.Add(p.recheck)
		p.stats.BudgetRecheckWait = p.recheck
	}
	return res, err
}

// adaptRecheck moves the recheck wait toward the time the kernel takes to
// drain about half the budget, from the room a recheck found.
func (p *Pump) adaptRecheck(room int) {
	budget := p.cfg.KernelDataBudget
	switch {
	case room < budget/4:
		p.recheck = min(2*p.recheck, p.cfg.BudgetRecheckMax)
	case room > budget*3/4:
		p.recheck = max(p.recheck/2, p.cfg.BudgetRecheck)
	}
}

// SetWritable tells the pump the socket can take more after a Blocked flush.
func (p *Pump) SetWritable() { p.blocked = false }

// WantsWritable reports whether the pump waits for the socket to drain.
func (p *Pump) WantsWritable() bool { return p.blocked && !p.queue.Empty() }

// PollTimeout returns when HandleTimeout (and then Flush) must next run and
// why: the Node's timers, the queue's buffer release, or held Data.
func (p *Pump) PollTimeout() (time.Time, string, bool) {
	at, reason, ok := p.node.PollTimeout()
	if q, qok := p.queue.PollTimeout(); qok && (!ok || q.Before(at)) {
		at, reason, ok = q, "queue-buffers", true
	}
	if p.held && (!ok || p.heldAt.Before(at)) {
		at, reason, ok = p.heldAt, "kernel-budget", true
	}
	return at, reason, ok
}
