package pump

import (
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// DefaultStreamBytes bounds the bytes waiting in the pump for the driver's
// streams (relays over TCP or TLS). The driver takes them after every step,
// so the bound only matters when a program sends faster than one step
// drains: 1 MiB is several hundred full datagrams, and Control always has
// room beside Data (streamOutbox.admit).
const DefaultStreamBytes = 1 << 20

// streamOutbox holds the transmits a Node addressed to a stream transport
// (node.Transmit.Transport TCP or TLS): they bypass the GSO queue, which
// batches datagrams for one UDP socket, and wait here, copied, until the
// driver takes them with PollStream and writes them to its stream. It is
// a FIFO: a stream keeps its order anyway, so Control cannot overtake
// Data on it once written; the driver bounds what waits per stream.
type streamOutbox struct {
	out   []node.Transmit
	head  int
	bytes int
}

// admit copies t in, unless it is Data past the bound (refused, like the
// queue's back-pressure) or Control past twice the bound (dropped: only a
// driver that never calls PollStream gets there).
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
	o.out = append(o.out, t)
	o.bytes += len(t.Payload)
	st.StreamTransmits++
	return true
}

// PollStream returns the next transmit for a stream transport, in the order
// the Node made them. Its Payload is the driver's to keep. A driver that
// runs relays over TCP or TLS drains it after every call into the pump;
// one that does not never gets any (no relay uses a stream).
func (p *Pump) PollStream() (node.Transmit, bool) {
	o := &p.streams
	if o.head == len(o.out) {
		return node.Transmit{}, false
	}
	t := o.out[o.head]
	o.out[o.head] = node.Transmit{}
	o.head++
	o.bytes -= len(t.Payload)
	if o.head == len(o.out) {
		o.out, o.head = o.out[:0], 0
	}
	return t, true
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
