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
// driver takes them (PeekStream, PollStream) and writes them to its
// stream. Control leaves before Data, as in the queue: on a stream a probe
// cannot overtake what was written before it, so it must not wait behind
// Data here too. Each class keeps its order.
type streamOutbox struct {
	fifo  [2]streamFIFO // by class
	bytes int           // Data and Control together
	// full lists the streams that refused a transmit during one
	// FlushStreams, reused so that a flush allocates nothing.
	full []streamKey
	// refused: Data was refused here since Writable last reported room.
	refused bool
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

type streamFIFO struct {
	out  []node.Transmit
	head int
}

// admit copies t in, unless it is Data past the bound (refused, like the
// queue's back-pressure) or Control past twice the bound (dropped: only a
// driver that never takes them gets there).
func (o *streamOutbox) admit(t node.Transmit, bound int, st *Stats) bool {
	limit := bound
	if t.Class == gso.Control {
		limit = 2 * bound
	}
	if o.bytes+len(t.Payload) > limit {
		if t.Class == gso.Control {
			st.StreamControlDropped++
		} else {
			st.StreamDataRefused++
		}
		return false
	}
	t.Payload = append([]byte(nil), t.Payload...)
	f := &o.fifo[classIndex(t.Class)]
	f.out = append(f.out, t)
	o.bytes += len(t.Payload)
	st.StreamTransmits++
	return true
}

func classIndex(c gso.Class) int {
	if c == gso.Control {
		return 0
	}
	return 1
}

// next is the FIFO the next transmit comes from, nil when both are empty.
func (o *streamOutbox) next() *streamFIFO {
	for i := range o.fifo {
		if f := &o.fifo[i]; f.head < len(f.out) {
			return f
		}
	}
	return nil
}

// PeekStream returns the next transmit for a stream transport without
// taking it: Control first, then Data, each in the order the Node made
// them. A driver whose stream cannot take it now leaves it (and so
// everything after it) for later; PollStream takes it. A driver with more
// than one stream uses FlushStreams, which lets the others go on.
func (p *Pump) PeekStream() (node.Transmit, bool) {
	f := p.streams.next()
	if f == nil {
		return node.Transmit{}, false
	}
	return f.out[f.head], true
}

// PollStream takes the transmit PeekStream returns. Its Payload is the
// driver's to keep. A driver that runs relays over TCP or TLS drains it
// after every call into the pump, as far as its streams take; one that
// does not never gets any (no relay uses a stream).
func (p *Pump) PollStream() (node.Transmit, bool) {
	f := p.streams.next()
	if f == nil {
		return node.Transmit{}, false
	}
	t := f.out[f.head]
	f.out[f.head] = node.Transmit{}
	f.head++
	p.streams.bytes -= len(t.Payload)
	f.compact()
	return t, true
}

// compact gives the FIFO's taken slots back. A FIFO the driver never
// empties (a stream always a little behind) would otherwise grow its
// slice by every transmit it ever held, though its bytes stay bounded.
func (f *streamFIFO) compact() {
	switch {
	case f.head == len(f.out):
		clear(f.out)
		f.out, f.head = f.out[:0], 0
	case f.head >= 64 && 2*f.head >= len(f.out):
		n := copy(f.out, f.out[f.head:])
		clear(f.out[n:])
		f.out, f.head = f.out[:n], 0
	}
}

// FlushStreams hands the outbox's transmits to write, Control first, then
// Data, and returns how many write took. write reports whether the
// transmit's stream took it; once a stream refuses one, the rest for that
// stream wait in the outbox (its order holds), while the transmits for
// other streams go on: one relay whose stream is stuck does not hold back
// the others, nor their probes. Each taken Payload is the driver's to keep.
func (p *Pump) FlushStreams(write func(node.Transmit) bool) int {
	o := &p.streams
	o.full = o.full[:0]
	taken := 0
	for i := range o.fifo {
		f := &o.fifo[i]
		kept := f.head
		for j := f.head; j < len(f.out); j++ {
			t := f.out[j]
			if !slices.Contains(o.full, keyOf(t)) {
				if write(t) {
					o.bytes -= len(t.Payload)
					taken++
					continue
				}
				o.full = append(o.full, keyOf(t))
			}
			f.out[kept] = t
			kept++
		}
		clear(f.out[kept:])
		f.out = f.out[:kept]
		f.compact()
	}
	return taken
}

// StreamWritable reports whether Data refused for a full stream outbox
// would be taken again: the outbox holds at most half its bound.
func (p *Pump) StreamWritable() bool { return p.streams.bytes <= p.cfg.StreamBytes/2 }

// toStream diverts a stream transmit from collect or enqueueData; it
// reports whether it took t. A refused Data transmit counts as
// back-pressure.
func (p *Pump) toStream(t node.Transmit) (taken, accepted bool) {
	if t.Transport == node.UDP {
		return false, false
	}
	if !p.streams.admit(t, p.cfg.StreamBytes, &p.stats) && t.Class == gso.Data {
		p.streams.refused = true
		p.refusals++
		p.stats.DataRefused++
		return true, false
	}
	return true, true
}
