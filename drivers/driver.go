package drivers

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// Defaults, and why.
const (
	// maxCommands is how many commands may wait for the loop, and the most
	// it takes before it flushes: enough that many concurrent senders each
	// find a place and share one flush, few enough that received datagrams
	// and timers wait behind at most this many commands.
	maxCommands = 64
	// yieldPayloads is a full GSO batch: the loop waits for more payloads
	// from a Send loop (see serveWaiting) only until it has one.
	yieldPayloads = 64
)

// ErrStopped is returned by commands given to a driver that is not running.
var ErrStopped = errors.New("drivers: driver stopped")

// Writable is implemented by Conns whose Send reports pump.ErrWouldBlock:
// WaitWritable blocks until the socket can take more, or the Conn closes.
type Writable interface {
	WaitWritable() error
}

// Config of a Driver. Zero fields take the defaults DefaultConfig shows.
type Config struct {
	// Node configures the core (node.DefaultConfig). A nil Node.Rand is
	// seeded from crypto/rand.
	Node node.Config
	// Pump configures the queue, the kernel budget and the queue's delay
	// bound (pump.DefaultConfig). Unlike a Pump built by hand, a driver
	// takes a zero KernelDataBudget to mean the default: every probe
	// should wait behind as little as the link allows; negative disables
	// the budget. Pump.Overflow chooses back-pressure (the default: Send
	// refuses, WaitWritable waits) or head-drop past the delay bound.
	Pump pump.Config
	// OnEvent receives every Node event, on the driver's goroutine. It must
	// not block and must not call the Driver's commands.
	OnEvent func(node.Event)
	// OnData receives each application payload, on the driver's goroutine.
	// The payload aliases a receive buffer: copy what you keep.
	OnData func(id node.ConnID, payload []byte)
	// Logger gets structured logs; nil means JSON lines on stderr at Info.
	Logger *slog.Logger
	// RecvMessages and RecvBufferSize size the receive buffers. Defaults
	// pump.DefaultRecvMessages (one recvmmsg call's worth) and
	// pump.DefaultRecvBufferSize (the largest datagram or GRO
	// super-datagram).
	RecvMessages   int
	RecvBufferSize int
	// Dial opens the TCP connections to relays reached over TCP or TLS
	// (AddRelayConfig); nil means a net.Dialer. A program sets it to dial
	// through a proxy, from a chosen interface or in another namespace.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// DefaultConfig returns the defaults documented on Config (Node.Rand,
// Logger and the callbacks left nil).
func DefaultConfig() Config {
	return Config{
		Node:           node.DefaultConfig(),
		Pump:           pump.DefaultConfig(),
		RecvMessages:   pump.DefaultRecvMessages,
		RecvBufferSize: pump.DefaultRecvBufferSize,
	}
}

// Driver runs one Node over one Conn in real time.
type Driver struct {
	cfg  Config
	conn pump.Conn
	pump *pump.Pump
	log  *slog.Logger

	cmds     chan *request
	spare    chan *request // spent requests, see getRequest
	received chan []pump.Message
	free     chan []pump.Message
	writable chan error
	done     chan struct{}

	// handoff and stopped: see call and stopCommands.
	handoff sync.RWMutex
	stopped bool

	mu      sync.Mutex // guards running and room, and conn against the sending goroutine
	running bool
	// room is closed when Data is taken again after a refusal; nil while
	// no program waits on a refusal. WaitWritable waits on it. Only the
	// loop writes it.
	room chan struct{}

	roam roamState // the receive goroutine; see Rebind

	// streams carries relays over TCP and TLS (streams.go); its
	// goroutines count in the WaitGroup Run waits for.
	streams  *streams
	streamWG sync.WaitGroup
}

// New builds a driver over c. Run starts it.
func New(c pump.Conn, cfg Config) (*Driver, error) {
	if cfg.Node.Rand == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("drivers: seeding the core: %w", err)
		}
		cfg.Node.Rand = rand.New(rand.NewChaCha8(seed))
	}
	def := DefaultConfig()
	if cfg.Pump.KernelDataBudget == 0 {
		cfg.Pump.KernelDataBudget = def.Pump.KernelDataBudget
	} else if cfg.Pump.KernelDataBudget < 0 {
		cfg.Pump.KernelDataBudget = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.RecvMessages <= 0 {
		cfg.RecvMessages = def.RecvMessages
	}
	if cfg.RecvBufferSize <= 0 {
		cfg.RecvBufferSize = def.RecvBufferSize
	}
	n, err := node.New(cfg.Node)
	if err != nil {
		return nil, err
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{}).DialContext
	}
	d := &Driver{
		cfg:      cfg,
		conn:     c,
		pump:     pump.New(n, c, cfg.Pump),
		log:      cfg.Logger,
		cmds:     make(chan *request, maxCommands),
		spare:    make(chan *request, spareRequests),
		received: make(chan []pump.Message, 1),
		free:     make(chan []pump.Message, 2),
		writable: make(chan error, 1),
		done:     make(chan struct{}),
	}
	d.streams = newStreams(cfg.Dial, d.done, &d.streamWG, func(msg string, args ...any) { d.log.Warn(msg, args...) })
	return d, nil
}

// Do runs fn on the driver's goroutine with the current time and returns
// its error. Every command goes through it; the wrappers below are
// shorthands. fn must not block.
func (d *Driver) Do(ctx context.Context, fn func(now time.Time, p *pump.Pump) error) error {
	r := d.getRequest()
	r.fn = fn
	err := d.call(ctx, r)
	d.putRequest(r)
	return err
}

// Connect adds or updates a connection; see node.Node.Connect.
func (d *Driver) Connect(ctx context.Context, id node.ConnID, role node.Role, local, remote node.Credentials) (node.Credentials, error) {
	var creds node.Credentials
	err := d.Do(ctx, func(now time.Time, p *pump.Pump) (err error) {
		creds, err = p.Node().Connect(now, id, role, local, remote)
		return err
	})
	return creds, err
}

// AddRemoteCandidate signals a peer's candidate; see node.Node.
func (d *Driver) AddRemoteCandidate(ctx context.Context, id node.ConnID, c node.Candidate) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().AddRemoteCandidate(now, id, c) })
}

// AddLocalAddress registers an address the socket receives on as a host
// candidate.
func (d *Driver) AddLocalAddress(ctx context.Context, addr netip.AddrPort) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().AddLocalAddress(now, addr) })
}

// Send queues payload for connection id; the payload may be reused when
// Send returns. gso.ErrQueueFull is back-pressure: the payload was not
// queued; WaitWritable returns when Data is taken again. An error wrapping
// node.ErrPayloadTooLarge means the payload exceeds what the connection's
// path carries (MaxPayload): it was refused, never sent. For many payloads
// SendBatch costs one hand-over instead of one each.
func (d *Driver) Send(ctx context.Context, id node.ConnID, payload []byte) error {
	r := d.getRequest()
	r.id = id
	r.one[0] = payload
	r.payloads = r.one[:]
	err := d.call(ctx, r)
	r.one[0] = nil
	d.putRequest(r)
	return err
}

// SendBatch queues payloads for connection id, in order, in one hand-over
// to the driver's goroutine, and returns how many it accepted: a prefix of
// payloads. It stops at the first payload it cannot take: with
// gso.ErrQueueFull (back-pressure; that payload and the rest were not
// queued, nothing is lost: call WaitWritable and send payloads[accepted:])
// or the Node's error for that payload. Each payload is copied once, into
// the send queue's buffers, so all of them may be reused when SendBatch
// returns; it allocates nothing per payload.
//
// Payloads handed over together, and those of concurrent Send and SendBatch
// calls that wait at the same moment, leave in the same flush and share GSO
// batches.
func (d *Driver) SendBatch(ctx context.Context, id node.ConnID, payloads [][]byte) (accepted int, err error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	r := d.getRequest()
	r.id = id
	r.payloads = payloads
	err = d.call(ctx, r)
	accepted = r.accepted
	d.putRequest(r)
	return accepted, err
}

// WaitWritable returns when Data refused for back-pressure (gso.ErrQueueFull
// from Send or SendBatch) would be taken again: at once if nothing is
// refused now, otherwise once the place that refused (the queue, or the
// stream of a relay over TCP or TLS) has drained to half its bound. It
// returns ctx's error if ctx ends first, and ErrStopped if the driver
// stops.
func (d *Driver) WaitWritable(ctx context.Context) error {
	d.mu.Lock()
	room := d.room
	d.mu.Unlock()
	if room == nil {
		return nil
	}
	select {
	case <-room:
		return nil
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MaxPayload returns the largest payload Send accepts on connection id
// now; it changes with the selected path, so read it again on Connected
// and PathChanged. See node.Node.MaxPayload.
func (d *Driver) MaxPayload(ctx context.Context, id node.ConnID) (int, error) {
	var m int
	err := d.Do(ctx, func(_ time.Time, p *pump.Pump) (err error) {
		m, err = p.Node().MaxPayload(id)
		return err
	})
	return m, err
}

// Close ends connection id.
func (d *Driver) Close(ctx context.Context, id node.ConnID) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().Close(now, id) })
}

// Stats is a snapshot of everything a driver counts.
type Stats struct {
	// Pump: datagrams in and out, would-blocks, Data held for the kernel
	// budget or refused for back-pressure.
	Pump pump.Stats
	// Queue: depth (QueuedBatches, HeldBytes), batches sent and their
	// segments-per-batch histogram, per-class traffic and refusals.
	Queue gso.Stats
	// Node: drops by reason, clock corrections, refused connections.
	Node node.Stats
	// Conn: the OS driver's system calls, offload messages and GSO
	// fallbacks, when the Conn counts them (pump.SocketStatser).
	Conn pump.SocketStats
	// Streams: the relay streams' dials, breaks, messages and drops.
	Streams StreamStats
}

// Stats returns a snapshot of the pump's, the queue's, the node's and the
// Conn's counters. Sends run on their own goroutine, so the snapshot may
// not yet count the round of datagrams the kernel is taking at that
// moment (the peer may already have them); the next snapshot does.
func (d *Driver) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := d.Do(ctx, func(time.Time, *pump.Pump) error {
		s = Stats{Pump: d.pump.Stats(), Queue: d.pump.Queue().Stats(), Node: d.pump.Node().Stats(),
			Streams: d.streams.count.snapshot()}
		if c, ok := d.conn.(pump.SocketStatser); ok {
			s.Conn = c.SocketStats()
		}
		return nil
	})
	return s, err
}

// ConnStats returns a snapshot of connection id; see node.Node.ConnStats.
func (d *Driver) ConnStats(ctx context.Context, id node.ConnID) (node.ConnStats, error) {
	var s node.ConnStats
	err := d.Do(ctx, func(_ time.Time, p *pump.Pump) error {
		var ok bool
		if s, ok = p.Node().ConnStats(id); !ok {
			return node.ErrUnknownConn
		}
		return nil
	})
	return s, err
}

// RelayStats returns a snapshot of the relay on server; see
// node.Node.RelayStats.
func (d *Driver) RelayStats(ctx context.Context, server netip.AddrPort) (node.RelayStats, error) {
	var s node.RelayStats
	err := d.Do(ctx, func(_ time.Time, p *pump.Pump) error {
		var ok bool
		if s, ok = p.Node().RelayStats(server); !ok {
			return node.ErrUnknownRelay
		}
		return nil
	})
	return s, err
}
