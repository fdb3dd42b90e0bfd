package drivers

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// heldConn's Send blocks until released, so a round stays with the sending
// goroutine; Recv blocks until Close.
type heldConn struct {
	inSend  chan struct{}
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (c *heldConn) Caps() gso.Caps { return gso.Caps{MaxSegments: 1} }
func (c *heldConn) Send(b []*gso.Batch) (int, error) {
	c.inSend <- struct{}{}
	<-c.release
	n := 0
	for _, x := range b {
		n += x.Segments()
	}
	return n, nil
}
func (c *heldConn) Recv([]pump.Message) (int, error) { <-c.closed; return 0, io.EOF }
func (c *heldConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }

// held is a running Driver over a heldConn with one local address, src.
type held struct {
	d      *Driver
	c      *heldConn
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	src    netip.AddrPort
}

func startHeld(t *testing.T) *held {
	t.Helper()
	h := &held{c: &heldConn{inSend: make(chan struct{}, 16), release: make(chan struct{}), closed: make(chan struct{})},
		done: make(chan error, 1), src: netip.MustParseAddrPort("192.0.2.1:1000")}
	var err error
	if h.d, err = New(h.c, Config{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go func() { h.done <- h.d.Run(h.ctx) }()
	if err := h.d.AddLocalAddress(h.ctx, h.src); err != nil {
		t.Fatal(err)
	}
	return h
}

// enqueue queues n Data datagrams from src.
func (h *held) enqueue(t *testing.T, n int) {
	t.Helper()
	dst := netip.MustParseAddrPort("198.51.100.1:2000")
	err := h.d.Do(h.ctx, func(_ time.Time, p *pump.Pump) error {
		for range n {
			if err := p.Queue().Enqueue(h.src, dst, []byte("x"), gso.Data, gso.NotECT); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stop ends Run and checks it ended cleanly.
func (h *held) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// The loop serves commands while a round is with the sending goroutine, so
// an address can go away then: what is in flight stays for its round, the
// rest from that address is dropped, and nothing panics (it did: the
// queue refused a drop between a Peek and its Advance).
func TestAnAddressRemovedWhileARoundIsInFlight(t *testing.T) {
	h := startHeld(t)
	h.enqueue(t, 1)
	<-h.c.inSend    // a round is in flight: the queue is peeked
	h.enqueue(t, 2) // queued behind it
	if err := h.d.RemoveLocalAddress(h.ctx, h.src); err != nil {
		t.Fatalf("RemoveLocalAddress: %v", err)
	}
	close(h.c.release)
	s, err := h.d.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pump.DataSendDropped != 2 {
		t.Fatalf("%d datagrams queued behind the round dropped, want 2: %+v", s.Pump.DataSendDropped, s.Pump)
	}
	h.stop(t)
}

// countConn takes every datagram at once and counts them.
type countConn struct {
	sent   atomic.Int64
	closed chan struct{}
	once   sync.Once
}

func (c *countConn) Caps() gso.Caps { return gso.Caps{MaxSegments: 1} }
func (c *countConn) Send(b []*gso.Batch) (int, error) {
	n := 0
	for _, x := range b {
		n += x.Segments()
	}
	c.sent.Add(int64(n))
	return n, nil
}
func (c *countConn) Recv([]pump.Message) (int, error) { <-c.closed; return 0, io.EOF }
func (c *countConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }

// A socket rebound to the address it had (wireguard-go reopening on its
// port) keeps what is queued: it leaves on the new socket.
func TestARebindToTheSameAddressKeepsWhatIsQueued(t *testing.T) {
	h := startHeld(t)
	h.enqueue(t, 1)
	<-h.c.inSend
	h.enqueue(t, 2)
	next := &countConn{closed: make(chan struct{})}
	if err := h.d.Rebind(h.ctx, next, AddressMove{From: h.src, To: h.src}); err != nil {
		t.Fatalf("Rebind: %v", err)
	}
	close(h.c.release)
	for end := time.Now().Add(5 * time.Second); next.sent.Load() < 2 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if got := next.sent.Load(); got != 2 {
		s, _ := h.d.Stats(h.ctx)
		t.Fatalf("the new socket sent %d of the 2 datagrams queued at the rebind (pump %+v)", got, s.Pump)
	}
	h.stop(t)
}
