package pump

import (
	"net/netip"

	"github.com/peerlink/peerlink/state/gso"
)

// Conn is the small surface an OS driver (or the simulator) implements: one
// UDP socket, or a set of sockets behind one object. Send and Recv may run
// on two goroutines at once (the drivers receive on one and send on
// another); each of them, Caps and UnsentBytes are called by one goroutine
// at a time, and UnsentBytes never while a Send runs. Close may be called
// at any time.
type Conn interface {
	// Caps says how many segments one batch may carry; the queue builds its
	// batches within them.
	Caps() gso.Caps
	// Send hands batches, in order, to the kernel. It returns how many
	// datagrams (segments, counted across the batches in order) the kernel
	// took; the caller advances the queue by exactly that many and keeps the
	// rest. A would-block condition is reported as ErrWouldBlock with the
	// count of what was taken before it; any other error still reports the
	// datagrams taken before it.
	Send(batches []*gso.Batch) (datagrams int, err error)
	// Recv fills msgs with received datagrams and returns how many it filled.
	// With receive offload a message may hold several coalesced datagrams of
	// equal length (SegmentSize), the last possibly shorter.
	Recv(msgs []Message) (n int, err error)
	// Close releases the socket; a blocked Recv returns.
	Close() error
}

// Receive sizes a loop gives Recv by default; the real-time driver and the
// simulator's host both use these.
const (
	// DefaultRecvMessages is how many buffers one Recv may fill: one
	// recvmmsg call's worth.
	DefaultRecvMessages = 64
	// DefaultRecvBufferSize fits the largest datagram or GRO
	// super-datagram.
	DefaultRecvBufferSize = 1 << 16
)

// Message is one received buffer.
type Message struct {
	// Buf is the caller's buffer; N bytes of it were filled.
	Buf []byte
	N   int
	// Src is the sender; Dst the local address the datagram arrived on
	// (from IP_PKTINFO/IPV6_PKTINFO where the driver supports it).
	Src, Dst netip.AddrPort
	// SegmentSize is the length of each coalesced datagram in Buf[:N] when
	// the kernel coalesced several (UDP_GRO); 0 or N means one datagram.
	SegmentSize int
	ECN         gso.ECN
}

// Datagrams calls fn with each datagram of the message, splitting a
// coalesced buffer without copying.
func (m *Message) Datagrams(fn func(b []byte)) {
	b := m.Buf[:m.N]
	seg := m.SegmentSize
	if seg <= 0 || seg >= len(b) {
		fn(b)
		return
	}
	for len(b) > 0 {
		n := min(seg, len(b))
		fn(b[:n])
		b = b[n:]
	}
}
