package netmodel

import (
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// DefaultLinkQueueBytes is a bottleneck's buffer when LinkConfig.QueueBytes
// is zero: 64 KiB, about half a second at 1 Mbit/s, a common home-router
// figure.
const DefaultLinkQueueBytes = 64 << 10

// LinkConfig is one direction of a link. The zero value is an ideal wire:
// no delay, no loss, infinite rate.
type LinkConfig struct {
	Latency time.Duration // one-way propagation delay
	// Jitter adds a uniform extra delay in [0, Jitter). Packets still leave
	// in order (a packet never overtakes one sent before it) unless it is
	// picked for reordering: real paths jitter without reordering much.
	Jitter   time.Duration
	LossRate float64        // independent loss probability per packet
	Burst    GilbertElliott // bursty loss, applied on top of LossRate
	// ReorderRate is the chance a packet is held back an extra ReorderDelay,
	// outside the in-order rule, so later packets overtake it.
	ReorderRate   float64
	ReorderDelay  time.Duration
	DuplicateRate float64 // chance a packet arrives twice (the copy with its own delay)
	// MTU is the largest IP packet (payload plus headers) the link carries;
	// bigger ones are dropped (after serialization) and counted. 0 means no
	// limit.
	MTU int
	// RateBitsPerSecond is the bottleneck rate: each packet occupies the
	// link for its wire size over the rate. 0 means infinitely fast.
	RateBitsPerSecond int64
	// QueueBytes bounds the packets waiting for the link (drop-tail). A
	// host's socket gates its own traffic with its send buffer instead, so
	// this bound applies to forwarded traffic only, and only on a link
	// with a rate (an infinitely fast one never queues). 0 means
	// DefaultLinkQueueBytes.
	QueueBytes int
}

// LinkStats counts what a link did.
type LinkStats struct {
	Offered, Transmitted, Delivered uint64
	Duplicated, Reordered           uint64
	DropQueueFull, DropMTU          uint64
	DropLoss, DropBurstLoss         uint64
	DropLinkDown                    uint64
	MaxQueuedBytes                  int // high-water mark of bytes queued or being serialized
}

// Link is one direction of a wire: a drop-tail queue feeding a serializer at
// the link's rate, then loss, duplication and delay. Surviving packets are
// handed to the link's next hop when they arrive.
type Link struct {
	w      *world.World
	name   string
	cfg    LinkConfig
	next   func(p Packet)
	queue  []Packet // waiting for the serializer, oldest first
	queued int      // wire bytes in queue plus the packet being serialized
	inTx   Packet
	busy   bool
	tx     *world.Timer // fires when inTx has been serialized
	bad    bool         // Gilbert–Elliott state
	last   time.Time    // latest in-order arrival, so jitter does not reorder
	down   bool
	stats  LinkStats
	tap    func(now time.Time, p *Packet) // sees every packet as its last bit leaves; nil: none
}

// NewLink makes a link that hands arriving packets to next. name appears in
// the trace.
func NewLink(w *world.World, name string, cfg LinkConfig, next func(p Packet)) *Link {
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultLinkQueueBytes
	}
	l := &Link{w: w, name: name, cfg: cfg, next: next}
	l.tx = w.NewTimer(name+"/tx", l.serialized)
	return l
}

// Name is the link's trace label.
func (l *Link) Name() string { return l.name }

// Config returns the link's parameters.
func (l *Link) Config() LinkConfig { return l.cfg }

// SetConfig changes the link's parameters from now on; packets already in
// flight keep the delay they were given.
func (l *Link) SetConfig(cfg LinkConfig) {
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultLinkQueueBytes
	}
	l.cfg = cfg
}

// SetDown cuts (true) or heals (false) the link. A cut link still
// serializes what it is given, as a NIC does when the cable beyond it is
// cut, and drops every packet.
func (l *Link) SetDown(down bool) {
	if l.down != down {
		l.down = down
		what := "heal"
		if down {
			what = "cut"
		}
		l.w.Note(l.name, what)
	}
}

// SetTap installs fn to see every packet at the instant its serialization
// ends, that is when its last bit has left the sender and before loss,
// MTU or a cut decide its fate. The simulator's hosts use it to measure
// how long a datagram waited before it went out on the wire. fn must not
// keep p or call back into the link. nil removes the tap.
func (l *Link) SetTap(fn func(now time.Time, p *Packet)) { l.tap = fn }

// Down reports whether the link is cut.
func (l *Link) Down() bool { return l.down }

// Stats returns the link's counters.
func (l *Link) Stats() LinkStats { return l.stats }

// QueuedBytes is the wire bytes waiting or being serialized.
func (l *Link) QueuedBytes() int { return l.queued }

// Send offers a packet to the link and reports whether it was queued.
func (l *Link) Send(p Packet) bool { return l.offer(p, false) }

// offer queues p. A socket's own packets bypass the queue bound (force):
// its send buffer is what bounds them.
func (l *Link) offer(p Packet, force bool) bool {
	l.stats.Offered++
	size := p.WireBytes()
	// An infinitely fast link serializes in no time, so it never builds a
	// queue; its packets only pass through the queue within one instant,
	// and the bound must not drop them there.
	if !force && l.cfg.RateBitsPerSecond > 0 && l.queued+size > l.cfg.QueueBytes {
		l.stats.DropQueueFull++
		l.drop(DropQueueFull, &p)
		return false
	}
	l.queue = append(l.queue, p)
	l.queued += size
	l.stats.MaxQueuedBytes = max(l.stats.MaxQueuedBytes, l.queued)
	if !l.busy {
		l.startNext()
	}
	return true
}

func (l *Link) startNext() {
	p := l.queue[0]
	l.queue[0] = Packet{} // let the payload go once sent
	l.queue = l.queue[1:]
	if len(l.queue) == 0 {
		l.queue = l.queue[:0:0] // drop the drained backing array
	}
	l.inTx = p
	l.busy = true
	l.tx.Reset(l.w.Now().Add(l.serializationTime(p.WireBytes())))
}

func (l *Link) serializationTime(wireBytes int) time.Duration {
	if l.cfg.RateBitsPerSecond <= 0 {
		return 0
	}
	return time.Duration(int64(wireBytes) * 8 * int64(time.Second) / l.cfg.RateBitsPerSecond)
}

// serialized runs when the packet in transmission has left the link's
// sender. The owner's send buffer is released last, because its writable
// notification may send again and so re-enter this link.
func (l *Link) serialized(time.Time) {
	p := l.inTx
	l.inTx = Packet{}
	l.busy = false
	l.queued -= p.WireBytes()
	l.stats.Transmitted++
	owner := p.owner
	p.owner = nil // charged to the sender's buffer on this hop only
	if l.tap != nil {
		l.tap(l.w.Now(), &p)
	}
	l.propagate(p)
	if len(l.queue) > 0 {
		l.startNext()
	}
	owner.serialized(len(p.Payload))
}

// propagate applies the path's faults and schedules arrival.
func (l *Link) propagate(p Packet) {
	rng := l.w.Rand()
	if l.down {
		l.stats.DropLinkDown++
		l.drop(DropLinkDown, &p)
		return
	}
	// The MTU is checked after serialization, as at the far side of a hop
	// whose MTU is smaller than the sender's: the sender spent the link
	// time and learns nothing.
	if l.cfg.MTU > 0 && p.WireBytes() > l.cfg.MTU {
		l.stats.DropMTU++
		l.drop(DropMTU, &p)
		return
	}
	if l.cfg.LossRate > 0 && rng.Float64() < l.cfg.LossRate {
		l.stats.DropLoss++
		l.drop(DropLoss, &p)
		return
	}
	if g := l.cfg.Burst; g.Enabled() {
		lose := g.LossGood
		if l.bad {
			lose = g.LossBad
		}
		lost := lose > 0 && rng.Float64() < lose
		if l.bad {
			l.bad = rng.Float64() >= g.BadToGood
		} else {
			l.bad = rng.Float64() < g.GoodToBad
		}
		if lost {
			l.stats.DropBurstLoss++
			l.drop(DropBurstLoss, &p)
			return
		}
	}
	l.schedule(p)
	if l.cfg.DuplicateRate > 0 && rng.Float64() < l.cfg.DuplicateRate {
		l.stats.Duplicated++
		l.schedule(p)
	}
}

func (l *Link) schedule(p Packet) {
	rng := l.w.Rand()
	now := l.w.Now()
	at := now.Add(l.cfg.Latency)
	if l.cfg.Jitter > 0 {
		at = at.Add(time.Duration(rng.Int64N(int64(l.cfg.Jitter))))
	}
	if l.cfg.ReorderRate > 0 && rng.Float64() < l.cfg.ReorderRate {
		l.stats.Reordered++
		at = at.Add(l.cfg.ReorderDelay)
	} else {
		if at.Before(l.last) {
			at = l.last
		}
		l.last = at
	}
	l.w.Schedule(at, l.name+"/arrive", func(time.Time) {
		l.stats.Delivered++
		l.next(p)
	})
}

func (l *Link) drop(reason string, p *Packet) {
	l.w.Drop(l.name, reason, p.ID, p.Src, p.Dst, len(p.Payload))
}
