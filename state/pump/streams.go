package pump

import (
	"net/netip"
	"slices"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// streamOutbox holds the transmits a Node addressed to a stream transport
// (node.Transmit.Transport TCP or TLS): they bypass the GSO queue, which
// batches datagrams for one UDP socket, and wait here, copied, until the
// driver takes them (FlushStreams) and writes them to its stream. Control leaves before Data, as in the queue:
// on a stream a probe cannot overtake what was written before it, so it
// must not wait behind Data here too. Each class keeps its order.
//
// Each stream has its own bound (Config.StreamBytes), so a relay whose
// stream is stuck (a server that stopped reading, a network that drops
// the connection) fills only its own share: the Data and probes of other
// relays still go in and out.
type streamOutbox struct {
	fifo [2]streamFIFO // by class
	// per holds each stream's bytes and whether it refused Data; a stream
	// with neither leaves it. A handful of relays: a slice beats a map.
	per   []streamLoad
	bytes int // Data and Control of every stream
	// full lists the streams that refused a transmit during one
	// FlushStreams, reused so that a flush allocates nothing.
	full []streamKey
	// changed: something was admitted, or a stream reported room
	// (Pump.StreamRoom), since the last FlushStreams; without it a flush
	// has nothing new to try, and skips walking what a stuck stream holds.
	changed bool
}

// streamKey names one stream as the driver does: the relay's local
// address, its server and the transport.
type streamKey struct {
	local, server netip.AddrPort
	transport     node.Transport
}

func keyOf(t node.Transmit) streamKey {
	return streamKey{local: t.Src, server: t.Dst, transport: t.Transport}
}

// streamLoad is what one stream holds in the outbox. refused: Data for it
// was refused since the program was last told it may send (Writable,
// ForgetRefusals).
type streamLoad struct {
	key     streamKey
	bytes   int
	refused bool
}

// streamFIFO is one class's transmits, in the order the Node made them.
type streamFIFO []node.Transmit

// keep keeps, in order, the transmits for which fn reports true, and
// clears the slots it freed so that their payloads can go.
func (f *streamFIFO) keep(fn func(t node.Transmit) bool) {
	kept := (*f)[:0]
	for _, t := range *f {
		if fn(t) {
			kept = append(kept, t)
		}
	}
	clear((*f)[len(kept):])
	*f = kept
}

// load returns k's entry, adding one when add is set (nil otherwise).
func (o *streamOutbox) load(k streamKey, add bool) *streamLoad {
	for i := range o.per {
		if o.per[i].key == k {
			return &o.per[i]
		}
	}
	if !add {
		return nil
	}
	o.per = append(o.per, streamLoad{key: k})
	return &o.per[len(o.per)-1]
}

// prune drops the entries of streams that hold nothing and refused
// nothing.
func (o *streamOutbox) prune() {
	o.per = slices.DeleteFunc(o.per, func(l streamLoad) bool { return l.bytes == 0 && !l.refused })
}

// admit copies t in, unless it is Data past its stream's bound (refused,
// like the queue's back-pressure) or Control past twice the bound
// (dropped: only a stream that takes nothing for long gets there).
func (o *streamOutbox) admit(t node.Transmit, bound int, st *Stats) bool {
	limit := bound
	if t.Class == gso.Control {
		limit = 2 * bound
	}
	l := o.load(keyOf(t), true)
	// An empty stream takes one transmit of any size, as the driver's
	// stream queue does: a payload past a small StreamBytes would
	// otherwise be refused for ever, and its writer woken at once.
	if l.bytes > 0 && l.bytes+len(t.Payload) > limit {
		if t.Class == gso.Control {
			st.StreamControlDropped++
		} else {
			st.StreamDataRefused++
			l.refused = true
		}
		return false
	}
	t.Payload = append([]byte(nil), t.Payload...)
	f := &o.fifo[classIndex(t.Class)]
	*f = append(*f, t)
	l.bytes += len(t.Payload)
	o.bytes += len(t.Payload)
	o.changed = true
	st.StreamTransmits++
	return true
}

// took accounts for t leaving the outbox.
func (o *streamOutbox) took(t node.Transmit) {
	o.bytes -= len(t.Payload)
	if l := o.load(keyOf(t), false); l != nil {
		l.bytes -= len(t.Payload)
	}
}

func classIndex(c gso.Class) int {
	if c == gso.Control {
		return 0
	}
	return 1
}

// FlushStreams hands the outbox's transmits to write, Control first, then
// Data, and returns how many write took. write reports whether the
// transmit's stream took it; once a stream refuses one, the rest for that
// stream wait in the outbox (its order holds), while the transmits for
// other streams go on: one relay whose stream is stuck does not hold back
// the others, nor their probes. Each taken Payload is the driver's to keep.
//
// A flush after which nothing was admitted and no stream reported room
// (StreamRoom) returns at once: what waits was refused already, and
// walking it again on every step would cost the loop for as long as a
// stream stays stuck.
func (p *Pump) FlushStreams(write func(node.Transmit) bool) int {
	o := &p.streams
	if !o.changed {
		return 0
	}
	o.changed = false
	o.full = o.full[:0]
	taken := 0
	for i := range o.fifo {
		o.fifo[i].keep(func(t node.Transmit) bool {
			k := keyOf(t)
			if slices.Contains(o.full, k) {
				return true
			}
			if !write(t) {
				o.full = append(o.full, k)
				return true
			}
			o.took(t)
			taken++
			return false
		})
	}
	o.prune()
	return taken
}

// dropStreamData drops the Data held for the streams to server, whose
// relay the Node gave up (node.RelayFailed): the connections on it moved
// or failed, so the Data is dead, and a stream that cannot be reached
// would otherwise hold a writer refused for it until the driver retires
// the stream. Their refusals go with it. Control stays: the Node's retry
// of the relay uses the same stream.
func (p *Pump) dropStreamData(server netip.AddrPort) {
	o := &p.streams
	o.fifo[classIndex(gso.Data)].keep(func(t node.Transmit) bool {
		if t.Dst != server {
			return true
		}
		o.took(t)
		p.stats.StreamDataDropped++
		return false
	})
	for i := range o.per {
		if o.per[i].key.server == server {
			o.per[i].refused = false
		}
	}
	o.prune()
}

// StreamRoom tells the pump that a stream that refused a transmit may take
// more (the driver's writer wrote what it had taken, or a stream was
// retired and the next transmit starts another): the next FlushStreams
// tries again.
func (p *Pump) StreamRoom() { p.streams.changed = true }

// StreamWritable reports whether Data refused for a full stream would be
// taken again: each stream that refused Data since the program was last
// told it may send (Writable, ForgetRefusals) holds at most half its
// bound. Streams that refused nothing do not count.
func (p *Pump) StreamWritable() bool {
	for _, l := range p.streams.per {
		if l.refused && l.bytes > p.cfg.StreamBytes/2 {
			return false
		}
	}
	return true
}

// forgetRefusals clears every stream's refusal.
func (o *streamOutbox) forgetRefusals() {
	for i := range o.per {
		o.per[i].refused = false
	}
	o.prune()
}

// toStream diverts a stream transmit from collect or enqueueData; it
// reports whether it took t. A refused Data transmit counts as
// back-pressure.
func (p *Pump) toStream(t node.Transmit) (taken, accepted bool) {
	if t.Transport == node.UDP {
		return false, false
	}
	if !p.streams.admit(t, p.cfg.StreamBytes, &p.stats) && t.Class == gso.Data {
		p.refusals++
		p.stats.DataRefused++
		return true, false
	}
	return true, true
}
