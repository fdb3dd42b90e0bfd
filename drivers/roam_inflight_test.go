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

// The loop serves commands while a round is with the sending goroutine, so
// an address can go away then: what is in flight stays for its round, the
// rest from that address is dropped, and nothing panics (it did: the
// queue refused a drop between a Peek and its Advance).
func TestAnAddressRemovedWhileARoundIsInFlight(t *testing.T) {
	c := &heldConn{inSend: make(chan struct{}, 16), release: make(chan struct{}), closed: make(chan struct{})}
	d, err := New(c, Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	src := netip.MustParseAddrPort("192.0.2.1:1000")
	dst := netip.MustParseAddrPort("198.51.100.1:2000")
	if err := d.AddLocalAddress(ctx, src); err != nil {
		t.Fatal(err)
	}
	enqueue := func(n int) {
		t.Helper()
		err := d.Do(ctx, func(_ time.Time, p *pump.Pump) error {
			for range n {
				if err := p.Queue().Enqueue(src, dst, []byte("x"), gso.Data, gso.NotECT); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	enqueue(1)
	<-c.inSend // a round is in flight: the queue is peeked
	enqueue(2) // queued behind it
	if err := d.RemoveLocalAddress(ctx, src); err != nil {
		t.Fatalf("RemoveLocalAddress: %v", err)
	}
	close(c.release)
	s, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pump.DataSendDropped != 2 {
		t.Fatalf("%d datagrams queued behind the round dropped, want 2: %+v", s.Pump.DataSendDropped, s.Pump)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
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
	c := &heldConn{inSend: make(chan struct{}, 16), release: make(chan struct{}), closed: make(chan struct{})}
	d, err := New(c, Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	src := netip.MustParseAddrPort("192.0.2.1:1000")
	dst := netip.MustParseAddrPort("198.51.100.1:2000")
	if err := d.AddLocalAddress(ctx, src); err != nil {
		t.Fatal(err)
	}
	enqueue := func(n int) {
		t.Helper()
		err := d.Do(ctx, func(_ time.Time, p *pump.Pump) error {
			for range n {
				if err := p.Queue().Enqueue(src, dst, []byte("x"), gso.Data, gso.NotECT); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	enqueue(1)
	<-c.inSend
	enqueue(2)
	next := &countConn{closed: make(chan struct{})}
	if err := d.Rebind(ctx, next, AddressMove{From: src, To: src}); err != nil {
		t.Fatalf("Rebind: %v", err)
	}
	close(c.release)
	for end := time.Now().Add(5 * time.Second); next.sent.Load() < 2 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if got := next.sent.Load(); got != 2 {
		s, _ := d.Stats(ctx)
		t.Fatalf("the new socket sent %d of the 2 datagrams queued at the rebind (pump %+v)", got, s.Pump)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
