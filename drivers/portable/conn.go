// Package portable is peerlink's Conn for every OS without a dedicated
// driver: one datagram per call through net.UDPConn, no offloads.
//
// It cannot choose the source address of a send, set or read ECN, or learn
// the destination address of a receive: Src and ECN of a batch are ignored,
// and a received Message's Dst is the socket's bound address (unspecified
// on a wildcard socket). Writes wait for room inside net.UDPConn, so Send
// never reports pump.ErrWouldBlock.
//
// # The kernel queue
//
// A probe the pump sends waits behind every byte the kernel already holds
// for the socket, so that queue needs a bound. Where the OS can count a
// socket's unsent bytes, Conn implements pump.UnsentCounter and the pump's
// kernel budget (pump.Config.KernelDataBudget) keeps it short:
//
//	Linux, Android   ioctl SIOCOUTQ
//	macOS, iOS       getsockopt SO_NWRITE
//	FreeBSD          ioctl FIONWRITE
//
// Elsewhere (Windows, OpenBSD, NetBSD, DragonFly, illumos, Solaris, AIX)
// New sizes the socket's send buffer (SO_SNDBUF) to its default (see Config)
// instead, so the kernel holds no more and a write waits for room;
// Config.SendBufferBytes changes it, and Conn.Bound reports what the kernel
// granted. Plan 9 has no SO_SNDBUF: its queue stays unbounded, and Bound
// says so in its Err.
//
// Two limits of these bounds, neither checked on a real machine here: the
// BSD-derived stacks (macOS, FreeBSD) may hand a UDP datagram to the
// interface queue at once, so SO_NWRITE and FIONWRITE may read 0 and the
// budget then holds nothing back; and on OpenBSD and NetBSD, SO_SNDBUF of
// a UDP socket caps the size of one datagram rather than a queue, so a
// datagram larger than the buffer is refused (ErrMessageTooLarge) and
// nothing queues in the socket either way.
package portable

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// ErrMessageTooLarge matches (errors.Is) the error Send returns when the
// kernel refused a datagram as too large (EMSGSIZE). The batch that failed
// is the first one the returned count does not cover.
var ErrMessageTooLarge = errors.New("portable: datagram too large")

// RecvBufferSize is the buffer a received Message should provide to hold any
// UDP datagram; a shorter one silently loses the tail of a larger datagram.
const RecvBufferSize = pump.DefaultRecvBufferSize

// Stats are the Conn's counters since it was created.
type Stats struct {
	SentDatagrams    uint64
	RecvDatagrams    uint64
	TooLarge         uint64 // EMSGSIZE
	Unreachable      uint64 // refused, unreachable, or of the socket's other family
	SkippedDatagrams uint64 // reported taken after repeated unreachable errors
	OtherErrors      uint64
}

// Conn is a pump.Conn over one UDP socket. Send and UnsentBytes belong to
// one goroutine and Recv to one; Stats, Caps, Bound and Close may be called
// from anywhere.
type Conn struct {
	uc    *net.UDPConn
	rc    syscall.RawConn // nil where the socket has none
	local netip.AddrPort
	oq    unsent
	bound Bound

	sent, recvd, tooLarge, unreachable, skipped, other atomic.Uint64
}

var _ pump.Conn = (*Conn)(nil)

// errNoRawConn: the socket gives no access to its descriptor.
var errNoRawConn = errors.New("portable: the socket has no raw connection")

// New takes over uc with the zero Config; Close closes it. A send buffer
// the kernel refuses is no error here: Bound reports it.
func New(uc *net.UDPConn) *Conn {
	c, _ := NewWithConfig(uc, Config{})
	return c
}

// NewWithConfig takes over uc; Close closes it. It returns the Conn even
// when it also returns an error: that error says a send buffer that
// cfg.SendBufferBytes asked for explicitly could not be set or read, and
// Bound reports the same.
func NewWithConfig(uc *net.UDPConn, cfg Config) (*Conn, error) {
	c := &Conn{uc: uc, bound: Bound{Counter: unsentCounter, SendBufferGranted: -1}}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		c.local = la.AddrPort()
	}
	if rc, err := uc.SyscallConn(); err == nil {
		c.rc = rc
	}
	c.oq.init()
	if want := sendBufferRequest(cfg, unsentCounter != ""); want > 0 {
		c.bound.SendBufferRequested = want
		if err := uc.SetWriteBuffer(want); err != nil {
			c.bound.Err = fmt.Errorf("portable: set SO_SNDBUF to %d: %w", want, err)
		}
	}
	if c.bound.Err == nil {
		c.bound.SendBufferGranted, c.bound.Err = c.sendBuffer()
	}
	if c.bound.Err != nil && cfg.SendBufferBytes > 0 {
		return c, c.bound.Err
	}
	return c, nil
}

// sendBuffer reads SO_SNDBUF, or -1 with the reason it cannot.
func (c *Conn) sendBuffer() (int, error) {
	if c.rc == nil {
		return -1, errNoRawConn
	}
	n, rerr := -1, error(nil)
	if err := c.rc.Control(func(fd uintptr) { n, rerr = readSendBuffer(fd) }); err != nil {
		return -1, err
	}
	if rerr != nil {
		return -1, fmt.Errorf("portable: read SO_SNDBUF: %w", rerr)
	}
	return n, nil
}

// Bound says what bounds the socket's kernel queue: the call that counts
// its unsent bytes, if any, and its send buffer as requested and granted.
func (c *Conn) Bound() Bound { return c.bound }

// Caps: one datagram per batch, since nothing here segments.
func (c *Conn) Caps() gso.Caps { return gso.Caps{MaxSegments: 1} }

// Send writes every unsent segment of the batches in order, one call each,
// and returns how many the kernel took. EMSGSIZE returns an error matching
// ErrMessageTooLarge; an unreachable destination is retried once, then the
// rest of its batch is skipped, counted and reported as taken so the queue
// moves on; other errors are returned with the count before them.
func (c *Conn) Send(batches []*gso.Batch) (int, error) {
	taken := 0
	for _, b := range batches {
		n, err := c.sendBatch(b)
		taken += n
		if err != nil {
			return taken, err
		}
	}
	return taken, nil
}

func (c *Conn) sendBatch(b *gso.Batch) (int, error) {
	total := b.Segments()
	retried := false
	for i := 0; i < total; {
		_, err := c.uc.WriteToUDPAddrPort(b.Segment(i), b.Dst())
		switch {
		case err == nil:
			c.sent.Add(1)
			i++
			retried = false
		case tooLarge(err):
			c.tooLarge.Add(1)
			return i, fmt.Errorf("%w: %d bytes to %v: %w", ErrMessageTooLarge, len(b.Segment(i)), b.Dst(), err)
		case unreachable(err):
			c.unreachable.Add(1)
			if !retried {
				retried = true
				continue
			}
			c.skipped.Add(uint64(total - i))
			return total, nil
		default:
			c.other.Add(1)
			return i, fmt.Errorf("portable: send to %v: %w", b.Dst(), err)
		}
	}
	return total, nil
}

// unreachable reports errors about the destination rather than the socket;
// net reports a destination of the family the socket lacks as an AddrError.
func unreachable(err error) bool {
	var ae *net.AddrError
	return unreachableErrno(err) || errors.As(err, &ae)
}

// Recv waits for one datagram and fills msgs[0].
func (c *Conn) Recv(msgs []pump.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	m := &msgs[0]
	n, src, err := c.uc.ReadFromUDPAddrPort(m.Buf)
	if err != nil {
		return 0, err
	}
	c.recvd.Add(1)
	m.N = n
	m.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	m.Dst = c.local
	m.SegmentSize = 0
	m.ECN = gso.NotECT
	return 1, nil
}

// WaitWritable returns at once: writes wait for room themselves.
func (c *Conn) WaitWritable() error { return nil }

// LocalAddr is the socket's bound address.
func (c *Conn) LocalAddr() net.Addr { return c.uc.LocalAddr() }

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		SentDatagrams:    c.sent.Load(),
		RecvDatagrams:    c.recvd.Load(),
		TooLarge:         c.tooLarge.Load(),
		Unreachable:      c.unreachable.Load(),
		SkippedDatagrams: c.skipped.Load(),
		OtherErrors:      c.other.Load(),
	}
}

// Close closes the socket; a Recv in progress returns.
func (c *Conn) Close() error { return c.uc.Close() }

// ConnStats returns the counters in the shape every driver shares.
func (c *Conn) SocketStats() pump.SocketStats {
	s := c.Stats()
	return pump.SocketStats{
		SendCalls: s.SentDatagrams, SentDatagrams: s.SentDatagrams, RecvCalls: s.RecvDatagrams,
		RecvDatagrams: s.RecvDatagrams, TooLarge: s.TooLarge, Unreachable: s.Unreachable,
		SkippedDatagrams: s.SkippedDatagrams, OtherErrors: s.OtherErrors,
	}
}
