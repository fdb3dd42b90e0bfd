package netmodel

import (
	"errors"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// Socket defaults, as a stock Linux host has them.
const (
	// DefaultSendBufferBytes is net.core.wmem_default.
	DefaultSendBufferBytes = 212992
	// DefaultRecvBufferBytes is net.core.rmem_default.
	DefaultRecvBufferBytes = 212992
	// DefaultMaxSegments is UDP_MAX_SEGMENTS before Linux 6.10.
	DefaultMaxSegments = 64
	// DefaultMaxRecvQueue bounds datagrams waiting in a receive queue, apart
	// from their bytes, so a flood of tiny datagrams stays bounded too.
	DefaultMaxRecvQueue = 4096
)

// Socket errors.
var (
	ErrClosed          = errors.New("netmodel: socket closed")
	ErrTooManySegments = errors.New("netmodel: batch has more segments than Caps allow")
	ErrBadSource       = errors.New("netmodel: source address is not this socket's")
	ErrBadDestination  = errors.New("netmodel: invalid destination")
)

// SocketConfig sizes a socket. Zero fields take the defaults.
type SocketConfig struct {
	SendBufferBytes int
	// LowWaterBytes is the send-buffer use below which a blocked socket is
	// reported writable again. 0 means half of SendBufferBytes: Linux wakes
	// a UDP writer only once its buffer is less than half full.
	LowWaterBytes   int
	RecvBufferBytes int
	MaxRecvQueue    int
	MaxSegments     int
}

// SocketEvent is what a socket tells its host's loop.
type SocketEvent uint8

const (
	// Readable: the receive queue went from empty to non-empty. Drain it
	// with Recv until Recv returns 0; no further Readable comes until then.
	Readable SocketEvent = iota + 1
	// Writable: a Send or WriteTo was refused with pump.ErrWouldBlock and
	// the send buffer has since drained below the low-water mark.
	Writable
)

func (e SocketEvent) String() string {
	switch e {
	case Readable:
		return "readable"
	case Writable:
		return "writable"
	}
	return "invalid"
}

// SocketStats counts what a socket did.
type SocketStats struct {
	SentDatagrams, SentBytes uint64
	WouldBlock               uint64 // sends refused for a full send buffer
	ReceivedDatagrams        uint64
	DropRecvBufferFull       uint64
	Truncated                uint64 // datagrams longer than the Recv buffer given
	MaxSendBufferUsed        int
	MaxRecvBufferUsed        int
}

// Socket is a simulated UDP socket and implements pump.Conn. Sends are
// charged to a bounded send buffer until the host's uplink has serialized
// them, so a sender faster than the link meets pump.ErrWouldBlock as on a
// real kernel; receives wait in a bounded queue.
type Socket struct {
	w       *world.World
	h       *Host
	local   netip.AddrPort // port 0 for the wildcard socket
	cfg     SocketConfig
	sndUsed int  // payload bytes accepted and not yet serialized
	blocked bool // a send was refused; owe a Writable
	rx      []Packet
	rxBytes int
	notify  func(now time.Time, ev SocketEvent)
	closed  bool
	stats   SocketStats
}

var _ pump.Conn = (*Socket)(nil)

func newSocket(h *Host, local netip.AddrPort, cfg SocketConfig) *Socket {
	if cfg.SendBufferBytes <= 0 {
		cfg.SendBufferBytes = DefaultSendBufferBytes
	}
	if cfg.LowWaterBytes <= 0 {
		cfg.LowWaterBytes = cfg.SendBufferBytes / 2
	}
	if cfg.RecvBufferBytes <= 0 {
		cfg.RecvBufferBytes = DefaultRecvBufferBytes
	}
	if cfg.MaxRecvQueue <= 0 {
		cfg.MaxRecvQueue = DefaultMaxRecvQueue
	}
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = DefaultMaxSegments
	}
	return &Socket{w: h.w, h: h, local: local, cfg: cfg}
}

// LocalAddr is the socket's address on its host (port 0 for a wildcard).
func (s *Socket) LocalAddr() netip.AddrPort { return s.local }

// Host is the socket's host.
func (s *Socket) Host() *Host { return s.h }

// Stats returns the socket's counters.
func (s *Socket) Stats() SocketStats { return s.stats }

// SendBufferUsed is the payload bytes accepted and not yet on the wire.
func (s *Socket) SendBufferUsed() int { return s.sndUsed }

// RecvQueued is the number of datagrams waiting for Recv.
func (s *Socket) RecvQueued() int { return len(s.rx) }

// SetNotify installs the host loop's callback. It is called from inside a
// world event, never from inside a call on the socket, so the callback may
// call Recv, Send and anything else.
func (s *Socket) SetNotify(fn func(now time.Time, ev SocketEvent)) { s.notify = fn }

// Caps reports the segments one batch may carry.
func (s *Socket) Caps() gso.Caps { return gso.Caps{MaxSegments: s.cfg.MaxSegments} }

// Send hands batches to the simulated kernel in order. Like a Linux UDP
// socket, a batch (one GSO super-datagram) is taken whole if the send
// buffer is not yet full, so the buffer may overshoot its size by less than
// one batch; otherwise Send stops with pump.ErrWouldBlock and the count of
// datagrams taken so far, and a Writable follows once the buffer drains.
func (s *Socket) Send(batches []*gso.Batch) (int, error) {
	taken := 0
	for _, b := range batches {
		if s.closed {
			return taken, ErrClosed
		}
		segs := b.Segments()
		if segs > s.cfg.MaxSegments {
			return taken, ErrTooManySegments
		}
		src, err := s.source(b.Src())
		if err != nil {
			return taken, err
		}
		if !b.Dst().IsValid() {
			return taken, ErrBadDestination
		}
		if s.full() {
			return taken, pump.ErrWouldBlock
		}
		for i := 0; i < segs; i++ {
			s.transmit(src, b.Dst(), b.Segment(i), b.ECN())
		}
		taken += segs
	}
	return taken, nil
}

// WriteTo sends one datagram from the socket's address, for simulated
// applications that do not use the gso queue. It has Send's buffer rules.
func (s *Socket) WriteTo(payload []byte, dst netip.AddrPort) error {
	return s.WriteFrom(netip.AddrPort{}, dst, payload)
}

// WriteFrom sends one datagram from src, which a wildcard socket may pick
// among its host's ports; the zero src means the socket's own address.
func (s *Socket) WriteFrom(src, dst netip.AddrPort, payload []byte) error {
	if s.closed {
		return ErrClosed
	}
	src, err := s.source(src)
	if err != nil {
		return err
	}
	if !dst.IsValid() {
		return ErrBadDestination
	}
	if s.full() {
		return pump.ErrWouldBlock
	}
	s.transmit(src, dst, payload, gso.NotECT)
	return nil
}

func (s *Socket) source(src netip.AddrPort) (netip.AddrPort, error) {
	if !src.IsValid() {
		if s.local.Port() == 0 {
			return src, ErrBadSource // a wildcard socket must be told its port
		}
		return s.local, nil
	}
	if src.Addr().Unmap() != s.h.addr || (s.local.Port() != 0 && src.Port() != s.local.Port()) {
		return src, ErrBadSource
	}
	return src, nil
}

func (s *Socket) full() bool {
	if s.sndUsed >= s.cfg.SendBufferBytes {
		s.blocked = true
		s.stats.WouldBlock++
		return true
	}
	return false
}

func (s *Socket) transmit(src, dst netip.AddrPort, payload []byte, ecn gso.ECN) {
	p := Packet{
		ID:      s.w.NextID(),
		Src:     src,
		Dst:     dst,
		Payload: append([]byte(nil), payload...),
		ECN:     ecn,
		SentAt:  s.w.Now(),
		owner:   s,
	}
	s.sndUsed += len(payload)
	s.stats.MaxSendBufferUsed = max(s.stats.MaxSendBufferUsed, s.sndUsed)
	s.stats.SentDatagrams++
	s.stats.SentBytes += uint64(len(payload))
	s.w.Send(s.h.name, p.ID, src, dst, len(payload))
	s.h.up.offer(p, true)
}

// serialized releases a packet's bytes once the uplink has sent them (or
// dropped them for size). nil for packets no socket owns.
func (s *Socket) serialized(n int) {
	if s == nil {
		return
	}
	s.sndUsed -= n
	if s.blocked && s.sndUsed < s.cfg.LowWaterBytes {
		s.blocked = false
		if s.notify != nil && !s.closed {
			s.notify(s.w.Now(), Writable)
		}
	}
}

func (s *Socket) deliver(p Packet) {
	if s.closed || s.rxBytes+len(p.Payload) > s.cfg.RecvBufferBytes || len(s.rx) >= s.cfg.MaxRecvQueue {
		s.stats.DropRecvBufferFull++
		s.w.Drop(s.h.name, DropRecvBufferFull, p.ID, p.Src, p.Dst, len(p.Payload))
		return
	}
	s.rx = append(s.rx, p)
	s.rxBytes += len(p.Payload)
	s.stats.MaxRecvBufferUsed = max(s.stats.MaxRecvBufferUsed, s.rxBytes)
	s.w.Deliver(s.h.name, p.ID, p.Src, p.Dst, len(p.Payload))
	if len(s.rx) == 1 && s.notify != nil {
		s.notify(s.w.Now(), Readable)
	}
}

// Recv fills msgs with waiting datagrams, one per message (no receive
// coalescing), and returns how many. It never blocks: 0 means the queue is
// empty. A datagram longer than its buffer is truncated and counted.
func (s *Socket) Recv(msgs []pump.Message) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	n := 0
	for n < len(msgs) {
		p, ok := s.ReadFrom()
		if !ok {
			break
		}
		m := &msgs[n]
		m.N = copy(m.Buf, p.Payload)
		if m.N < len(p.Payload) {
			s.stats.Truncated++
		}
		m.Src, m.Dst, m.SegmentSize, m.ECN = p.Src, p.Dst, 0, p.ECN
		n++
	}
	return n, nil
}

// ReadFrom takes the oldest waiting datagram; the caller may keep its
// payload.
func (s *Socket) ReadFrom() (Packet, bool) {
	if len(s.rx) == 0 || s.closed {
		return Packet{}, false
	}
	p := s.rx[0]
	s.rx[0] = Packet{}
	s.rx = s.rx[1:]
	if len(s.rx) == 0 {
		s.rx = s.rx[:0:0]
	}
	s.rxBytes -= len(p.Payload)
	s.stats.ReceivedDatagrams++
	return p, true
}

// Close unbinds the socket; queued datagrams are discarded and datagrams
// already handed to the uplink still leave.
func (s *Socket) Close() error {
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.rx, s.rxBytes = nil, 0
	s.h.unbind(s)
	return nil
}
