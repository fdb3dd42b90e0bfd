package gso

// QueuedBytes is the payload of class c queued and not yet taken by the
// kernel: what a delay bound on the queue divides by the drain rate.
func (q *Queue) QueuedBytes(c Class) int {
	if c >= numClasses {
		return 0
	}
	return q.queued[c]
}

// HeldBytes is the buffer memory queued batches of class c hold, which
// Config's byte limits bound.
func (q *Queue) HeldBytes(c Class) int {
	if c >= numClasses {
		return 0
	}
	return q.held[c]
}

// DataLimit is the buffer memory queued Data may hold (Config.DataByteLimit
// or its default).
func (q *Queue) DataLimit() int { return q.cfg.DataByteLimit }

// DropOldestData drops the unsent segments of the oldest queued Data batch
// and returns how many datagrams and payload bytes it dropped (0 when no
// Data is queued). It is head-drop for traffic with its own congestion
// control: dropping the oldest tells such a sender soonest that the path
// is full, and what follows waits less. Control is never dropped, a flow
// loses a prefix of what it queued (the rest keeps its order), and the
// drop is counted (ClassStats.HeadDropped). It must not run between a Peek
// and its Advance, when the driver may be sending that batch; then it
// drops nothing.
func (q *Queue) DropOldestData() (datagrams, bytes int) {
	if len(q.peeked) > 0 {
		return 0, 0
	}
	q.dropped = nil
	q.tree.Ascend(q.dropFn)
	b := q.dropped
	q.dropped = nil
	if b == nil {
		return 0, 0
	}
	datagrams, bytes = b.unsentSegments(), len(b.buf)-b.off
	cs := &q.stats.Classes[Data]
	cs.HeadDropped += uint64(datagrams)
	cs.HeadDroppedBytes += uint64(bytes)
	q.queued[Data] -= bytes
	q.unlink(b)
	q.release(b)
	return datagrams, bytes
}

func (q *Queue) findOldestData(b *Batch) bool {
	if b.class != Data {
		return true
	}
	q.dropped = b
	return false
}
