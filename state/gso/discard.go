package gso

import "net/netip"

// DropSource removes every queued batch that leaves from src and returns
// how many datagrams it removed, by class. The program's address went
// away (a removed interface, a rebound socket): nothing queued from it can
// leave any more, and left queued each batch would fail a send of its own
// at the head of the queue, one per flush, delaying the Control behind it.
// Batches peeked and not yet advanced are with a sender (a driver sends
// a round on its own goroutine while its loop serves commands): they stay,
// and their Advance settles them, sent or refused like any other.
func (q *Queue) DropSource(src netip.AddrPort) (control, data int) {
	var gone []*Batch
	q.tree.Ascend(func(b *Batch) bool {
		if b.src == src && !q.isPeeked(b) {
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

// isPeeked: b is in the last Peek, awaiting its Advance. A Peek holds at
// most a round's worth of batches, so a scan is cheap.
func (q *Queue) isPeeked(b *Batch) bool {
	for _, p := range q.peeked {
		if p == b {
			return true
		}
	}
	return false
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
