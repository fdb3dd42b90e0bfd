package gso

import (
	"net/netip"
	"time"
)

// Batch is a run of datagrams of one flow that a driver can hand to the
// kernel in one send with UDP_SEGMENT: every segment has the batch's segment
// size except possibly the last, which may be shorter.
//
// A Batch belongs to the Queue. A driver reads it between Peek and Advance and
// must not keep it, or any slice of it, afterwards.
type Batch struct {
	src, dst netip.AddrPort
	ecn      ECN
	class    Class
	seq      uint64 // position in enqueue order; unique across the queue's life
	segSize  int    // length of every segment but possibly the last
	limit    int    // most payload bytes this batch may hold
	buf      []byte // the queued payload, segments back to back; capacity fixed
	off      int    // bytes of buf already sent (whole segments)
	end      int    // bytes of buf offered to the driver by the last peek
	sealed   bool   // no datagram may be appended
	freedAt  time.Time
	segCount int // segments in buf, sent ones included
}

// Src is the local address the batch is sent from (the zero value lets the
// kernel choose).
func (b *Batch) Src() netip.AddrPort { return b.src }

// Dst is where every segment of the batch goes.
func (b *Batch) Dst() netip.AddrPort { return b.dst }

// ECN is the codepoint every segment carries.
func (b *Batch) ECN() ECN { return b.ecn }

// Class of every segment of the batch.
func (b *Batch) Class() Class { return b.class }

// SegmentSize is the UDP_SEGMENT value for the batch: the length of each
// segment but the last, which may be shorter.
func (b *Batch) SegmentSize() int { return b.segSize }

// Payload is the offered segments back to back: the buffer a GSO send hands
// to the kernel as one super-datagram. Usually that is every unsent segment;
// under a kernel queue budget (Queue.PeekLimit) it may be a prefix of them.
func (b *Batch) Payload() []byte { return b.buf[b.off:b.end] }

// Segments is the number of offered datagrams in the batch.
func (b *Batch) Segments() int { return (b.end - b.off + b.segSize - 1) / b.segSize }

// Segment returns the i-th offered datagram, for drivers that send a batch
// one datagram at a time.
func (b *Batch) Segment(i int) []byte {
	start := b.off + i*b.segSize
	end := min(start+b.segSize, b.end)
	return b.buf[start:end]
}

// unsentSegments counts every unsent datagram, offered or not.
func (b *Batch) unsentSegments() int { return (len(b.buf) - b.off + b.segSize - 1) / b.segSize }
