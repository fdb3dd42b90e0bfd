package gso

import "net/netip"

// DropSource removes every queued batch that leaves from src and returns
// how many datagrams it removed, by class. The program's address went
// away (a removed interface, a rebound socket): nothing queued from it can
// leave any more, and left queued each batch would fail a send of its own
// at the head of the queue, one per flush, delaying the Control behind it.
// Call it between flushes (not between a Peek and its Advance).
func (q *Queue) DropSource(src netip.AddrPort) (control, data int) {
	if len(q.peeked) > 0 {
		panic("gso: DropSource between Peek and Advance")
	}
	var gone []*Batch
	q.tree.Ascend(func(b *Batch) bool {
		if b.src == src {
			gone = append(gone, b)
		}
		return true
	})
	for _, b := range gone {
		n := b.unsentSegments()
		if b.class == Control {
			control += n
		} else {
			data += n
		}
		cs := &q.stats.Classes[b.class]
		cs.Dropped += uint64(n)
		cs.DroppedBytes += uint64(len(b.buf) - b.off)
		q.discard(b)
	}
	return control, data
}

// discard takes b out of the queue unsent: as remove, without counting it
// as sent.
func (q *Queue) discard(b *Batch) {
	if _, ok := q.tree.Delete(b); !ok {
		panic("gso: discarded batch was not queued")
	}
	key := flowKey{src: b.src, dst: b.dst, ecn: b.ecn, class: b.class}
	if q.flows[key] == b {
		delete(q.flows, key)
	}
	if q.lastBatch == b {
		q.lastBatch = nil
	}
	q.held[b.class] -= cap(b.buf)
	q.bufs.put(b.buf)
	*b = Batch{}
	q.batches = append(q.batches, b)
}
