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

// Payload is the unsent segments back to back: the buffer a GSO send hands to
// the kernel as one super-datagram.
func (b *Batch) Payload() []byte { return b.buf[b.off:] }

// Segments is the number of unsent datagrams in the batch.
func (b *Batch) Segments() int { return b.segCount - b.off/b.segSize }

// Segment returns the i-th unsent datagram, for drivers that send a batch one
// datagram at a time.
func (b *Batch) Segment(i int) []byte {
	start := b.off + i*b.segSize
	end := min(start+b.segSize, len(b.buf))
	return b.buf[start:end]
}
