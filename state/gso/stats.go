package gso

import "math/bits"

// ClassStats counts one class's traffic through the queue.
type ClassStats struct {
	DatagramsIn, BytesIn   uint64 // accepted by Enqueue
	DatagramsOut, BytesOut uint64 // taken by the kernel (Advance)
	Refused, RefusedBytes  uint64 // refused with ErrQueueFull
	Dropped, DroppedBytes  uint64 // removed unsent by DropSource
	// Dropped from the head by DropOldestData (a delay bound's head-drop).
	HeadDropped, HeadDroppedBytes uint64
}

// Stats is a snapshot of the queue's counters and state.
type Stats struct {
	Classes [numClasses]ClassStats // indexed by Class
	// Batches counts batches fully sent; SegmentsPerBatch is their
	// histogram by segment count: 1, 2–3, 4–7, 8–15, 16–31, 32–63, 64+.
	Batches          uint64
	SegmentsPerBatch [7]uint64
	// Now: batches queued, buffer bytes held per class, pooled buffers.
	QueuedBatches int
	HeldBytes     [numClasses]int
	PooledBuffers int
}

func segmentBucket(n int) int { return min(bits.Len(uint(n))-1, 6) }

// Stats returns a snapshot.
func (q *Queue) Stats() Stats {
	s := q.stats
	s.QueuedBatches = q.tree.Len()
	s.HeldBytes = q.held
	s.PooledBuffers = q.bufs.n
	return s
}
