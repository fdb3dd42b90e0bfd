// Package portable is peerlink's Conn for every OS without a dedicated
// driver: one datagram per call through net.UDPConn, no offloads.
//
// It cannot choose the source address of a send, set or read ECN, or learn
// the destination address of a receive: Src and ECN of a batch are ignored,
// and a received Message's Dst is the socket's bound address (unspecified
// on a wildcard socket). Writes wait for room inside net.UDPConn, so Send
// never reports pump.ErrWouldBlock.
package portable

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/peerlink/peerlink/drivers/pump"
	"github.com/peerlink/peerlink/state/gso"
)

// ErrMessageTooLarge matches (errors.Is) the error Send returns when the
// kernel refused a datagram as too large (EMSGSIZE). The batch that failed
// is the first one the returned count does not cover.
var ErrMessageTooLarge = errors.New("portable: datagram too large")

// RecvBufferSize is the buffer a received Message should provide to hold any
// UDP datagram; a shorter one silently loses the tail of a larger datagram.
const RecvBufferSize = 1 << 16

// Stats are the Conn's counters since it was created.
type Stats struct {
	SentDatagrams    uint64
	RecvDatagrams    uint64
	TooLarge         uint64 // EMSGSIZE
	Unreachable      uint64 // refused, unreachable, or of the socket's other family
	SkippedDatagrams uint64 // reported taken after repeated unreachable errors
	OtherErrors      uint64
}

// Conn is a pump.Conn over one UDP socket. Send belongs to one goroutine and
// Recv to one; Stats, Caps and Close may be called from anywhere.
type Conn struct {
	uc    *net.UDPConn
	local netip.AddrPort

	sent, recvd, tooLarge, unreachable, skipped, other atomic.Uint64
}

var _ pump.Conn = (*Conn)(nil)

// New takes over uc; Close closes it.
func New(uc *net.UDPConn) *Conn {
	c := &Conn{uc: uc}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		c.local = la.AddrPort()
	}
	return c
}

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
func (c *Conn) ConnStats() pump.ConnStats {
	s := c.Stats()
	return pump.ConnStats{
		SendCalls: s.SentDatagrams, SentDatagrams: s.SentDatagrams, RecvCalls: s.RecvDatagrams,
		RecvDatagrams: s.RecvDatagrams, TooLarge: s.TooLarge, Unreachable: s.Unreachable,
		SkippedDatagrams: s.SkippedDatagrams, OtherErrors: s.OtherErrors,
	}
}
