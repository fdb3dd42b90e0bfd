package wgbind

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// Defaults, and why.
const (
	// DefaultQueueLen is how many datagrams wait between the Driver and
	// the ReceiveFuncs: two of wireguard-go's receive batches, so one
	// batch can arrive while the previous is being decrypted.
	DefaultQueueLen = 2 * conn.IdealBatchSize
	// DefaultSendWait bounds how long Send waits out back-pressure. A
	// kernel socket blocks a sender for as long as its buffer is full;
	// a second is far past any queue drain, and short enough that a
	// wedged driver does not hold wireguard-go's send routines.
	DefaultSendWait = time.Second
)

// ErrDriverData: Config.Driver.OnData was set; the Bind owns it.
var ErrDriverData = errors.New("wgbind: Config.Driver.OnData belongs to the Bind")

// Config of a Bind.
type Config struct {
	// Driver configures the Driver the Bind builds. OnEvent is where the
	// program gets candidates to signal and Failed reasons; OnData must be
	// nil.
	Driver drivers.Config
	// QueueLen bounds the datagrams waiting for a ReceiveFunc. Zero means
	// DefaultQueueLen.
	QueueLen int
	// SendWait bounds how long one Send waits out back-pressure. Zero
	// means DefaultSendWait.
	SendWait time.Duration
	// Port is what Open reports as the bound port when asked for port 0:
	// the Driver's socket is the program's, opened before the Bind. Zero
	// reports 0.
	Port uint16
}

// Stats counts what the Bind received, delivered and dropped.
type Stats struct {
	// Received counts datagrams the Driver delivered to the Bind,
	// Delivered those handed to a ReceiveFunc.
	Received, Delivered uint64
	// QueueDrops: the ring was full (no ReceiveFunc kept up).
	QueueDrops uint64
	// ClosedDrops: the Bind was closed when the datagram arrived, or
	// closed while it waited in the ring.
	ClosedDrops uint64
	// TooBigDrops: larger than wireguard-go's receive buffer (64 KiB, so
	// never from a WireGuard peer).
	TooBigDrops uint64
}

// Bind is a conn.Bind over one peerlink Driver.
type Bind struct {
	d        *drivers.Driver
	in       *inbox
	sendWait time.Duration
	port     uint16

	mu sync.Mutex // guards closed and eps
	// closed is the current Open's channel, closed by Close; nil while
	// the Bind is closed.
	closed chan struct{}
	eps    map[node.ConnID]*Endpoint

	// turn lets one ReceiveFunc call at a time into the inbox: a call
	// from before a Close and Open may still be on its way out.
	turn chan struct{}
}

var _ conn.Bind = (*Bind)(nil)

// New builds a Bind and the Driver under it, over c. The program runs the
// Driver (go b.Driver().Run(ctx)) for as long as the tunnel may exist:
// the Driver, not the Bind, owns connections and relay allocations.
func New(c pump.Conn, cfg Config) (*Bind, error) {
	if cfg.Driver.OnData != nil {
		return nil, ErrDriverData
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.SendWait <= 0 {
		cfg.SendWait = DefaultSendWait
	}
	b := &Bind{
		in: newInbox(cfg.QueueLen), sendWait: cfg.SendWait, port: cfg.Port,
		eps: make(map[node.ConnID]*Endpoint), turn: make(chan struct{}, 1),
	}
	cfg.Driver.OnData = b.deliver
	d, err := drivers.New(c, cfg.Driver)
	if err != nil {
		return nil, err
	}
	b.d = d
	return b, nil
}

// Driver is the Driver under the Bind: Connect, AddRemoteCandidate,
// AddLocalAddress, relays and stats go through it.
func (b *Bind) Driver() *drivers.Driver { return b.d }

// Endpoint returns connection id's Endpoint, the same one every time.
func (b *Bind) Endpoint(id node.ConnID) *Endpoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.endpointLocked(id)
}

func (b *Bind) endpointLocked(id node.ConnID) *Endpoint {
	e, ok := b.eps[id]
	if !ok {
		e = newEndpoint(id)
		b.eps[id] = e
	}
	return e
}

// Forget drops connection id's Endpoint, once the program has closed the
// connection for good, so that the Bind's memory follows the connections
// that exist. A later datagram or ParseEndpoint for id makes a new one.
func (b *Bind) Forget(id node.ConnID) {
	b.mu.Lock()
	delete(b.eps, id)
	b.mu.Unlock()
}

// Stats returns a snapshot of the Bind's counters. Datagrams the Driver
// dropped (unknown sources, failed connections) are in its Stats.
func (b *Bind) Stats() Stats { return b.in.snapshot() }

// deliver is the Driver's OnData: it runs on the Driver's goroutine, so
// it never blocks.
func (b *Bind) deliver(id node.ConnID, p []byte) {
	b.mu.Lock()
	open := b.closed != nil
	var ep *Endpoint
	if open {
		ep = b.endpointLocked(id)
	}
	b.mu.Unlock()
	if !open {
		b.in.closedDrop()
		return
	}
	b.in.put(ep, p)
}

// Open starts a receive period: it returns one ReceiveFunc, valid until
// Close. port is not bound to anything (the Driver's socket is); Open
// reports it back, or Config.Port for 0, so that wireguard-go's UAPI shows
// the port it was given.
func (b *Bind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	closed := make(chan struct{})
	b.closed = closed
	if port == 0 {
		port = b.port
	}
	return []conn.ReceiveFunc{b.receiveFunc(closed)}, port, nil
}

// receiveFunc is one Open's ReceiveFunc: it returns net.ErrClosed once
// that Open's Close has run, even if the Bind was opened again since.
func (b *Bind) receiveFunc(closed chan struct{}) conn.ReceiveFunc {
	w := &waiter{wake: make(chan struct{}, 1)}
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		select {
		case b.turn <- struct{}{}:
		case <-closed:
			return 0, net.ErrClosed
		}
		defer func() { <-b.turn }()
		w.bufs, w.sizes, w.eps = bufs, sizes[:len(bufs)], eps[:len(bufs)]
		n, err := b.in.take(w, closed)
		w.bufs, w.sizes, w.eps = nil, nil, nil
		return n, err
	}
}

// Close ends the receive period: its ReceiveFunc returns net.ErrClosed,
// and what waited in the ring is dropped. Connections stay up. Closing a
// closed Bind does nothing.
func (b *Bind) Close() error {
	b.mu.Lock()
	if b.closed != nil {
		close(b.closed)
		b.closed = nil
	}
	b.mu.Unlock()
	b.in.drop()
	return nil
}

// SetMark does nothing: the program owns the Driver's socket, and sets
// SO_MARK on it if it wants one.
func (b *Bind) SetMark(uint32) error { return nil }

// BatchSize is wireguard-go's own ideal batch: what its send routines
// hand Send, and what its receive routines offer a ReceiveFunc.
func (b *Bind) BatchSize() int { return conn.IdealBatchSize }

// ParseEndpoint takes EndpointString's form, "peerlink:<connection ID>".
func (b *Bind) ParseEndpoint(s string) (conn.Endpoint, error) {
	id, err := parseEndpointString(s)
	if err != nil {
		return nil, err
	}
	return b.Endpoint(id), nil
}

// Send hands bufs to the Driver for ep's connection, in order. It returns
// net.ErrClosed while the Bind is closed, an error wrapping
// node.ErrUnknownConn or node.ErrConnFailed for a connection that does not
// exist or failed, one wrapping node.ErrPayloadTooLarge for a datagram the
// path cannot carry (the datagrams before it were sent), and gso.ErrQueueFull
// if back-pressure outlasted Config.SendWait.
func (b *Bind) Send(bufs [][]byte, ep conn.Endpoint) error {
	e, ok := ep.(*Endpoint)
	if !ok {
		return conn.ErrWrongEndpointType
	}
	b.mu.Lock()
	open := b.closed != nil
	b.mu.Unlock()
	if !open {
		return net.ErrClosed
	}
	if err := b.sendAll(e.id, bufs); err != nil {
		return fmt.Errorf("wgbind: send to %s: %w", e.str, err)
	}
	return nil
}
