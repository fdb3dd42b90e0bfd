package pump

import (
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
// everything after it) for later; PollStream takes it.
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
	if f.head == len(f.out) {
		f.out, f.head = f.out[:0], 0
	}
	return t, true
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
		p.refusals++
		p.stats.DataRefused++
		return true, false
	}
	return true, true
}
