package gso

import (
	"errors"
	"net/netip"
)

// Class says how urgently a datagram must leave. Control (STUN, TURN, any
// liveness or handshake message) always leaves before Data (application
// payload), because a probe that waits behind bulk data arrives late and makes
// the peer declare a working connection lost.
type Class uint8

const (
	Control Class = iota
	Data
	numClasses
)

func (c Class) String() string {
	switch c {
	case Control:
		return "control"
	case Data:
		return "data"
	}
	return "invalid"
}

// ECN is the two-bit Explicit Congestion Notification codepoint of the IP
// header (RFC 3168): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
type ECN uint8

const (
	NotECT ECN = 0
	ECT1   ECN = 1
	ECT0   ECN = 2
	CE     ECN = 3
)

// Limits of one UDP datagram, and so of one GSO batch, whose segments travel
// as one super-datagram through the stack: the 16-bit length field less the
// UDP header and, for IPv4, the IP header (IPv6's payload length excludes its
// fixed header).
const (
	MaxBytesIPv4 = 65535 - 8 - 20 // 65507
	MaxBytesIPv6 = 65535 - 8      // 65527
)

// MaxBytesFor returns the largest batch (and datagram) toward dst.
func MaxBytesFor(dst netip.AddrPort) int {
	if dst.Addr().Unmap().Is4() {
		return MaxBytesIPv4
	}
	return MaxBytesIPv6
}

// Caps are what the driver's socket can take in one send.
type Caps struct {
	// MaxSegments is the most datagrams one batch may carry; 1 means the
	// driver has no segmentation offload and every batch is one datagram.
	// Linux accepts up to 64 (UDP_MAX_SEGMENTS; 128 on kernels from 6.10).
	MaxSegments int
}

// Errors returned to the caller of Enqueue and Advance.
var (
	// ErrQueueFull is back-pressure: the class's byte bound is reached. The
	// datagram was not queued; try again after the driver has flushed.
	ErrQueueFull = errors.New("gso: queue full")
	// ErrDatagramTooLarge: the payload exceeds what one UDP datagram toward
	// the destination can carry (MaxBytesFor).
	ErrDatagramTooLarge = errors.New("gso: datagram too large")
	// ErrEmptyDatagram: a zero-length payload cannot be a GSO segment.
	ErrEmptyDatagram = errors.New("gso: empty datagram")
	// ErrInvalidClass: the class is neither Control nor Data.
	ErrInvalidClass = errors.New("gso: invalid class")
	// ErrInvalidECN: the ECN codepoint is not one of the four two-bit values.
	ErrInvalidECN = errors.New("gso: invalid ECN codepoint")
	// ErrInvalidAddr: the destination is not a valid address and port.
	ErrInvalidAddr = errors.New("gso: invalid address")
	// ErrAdvance: Advance was told more datagrams left than were peeked.
	ErrAdvance = errors.New("gso: advance beyond peeked datagrams")
)
