package host

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// Defaults, and why.
const (
	// maxRecvRounds bounds the Recv calls of one Readable wake. Nothing
	// can arrive while the loop runs (arrivals are world events), so the
	// socket's own queue bound ends the loop long before this; reaching it
	// is a bug.
	maxRecvRounds = 1 << 16
	// maxSettleRounds bounds the deliver-flush-notify rounds of one settle.
	// Each round exists only because a callback issued a command; an
	// application that answers every event with another command forever is
	// a runaway scenario.
	maxSettleRounds = 1 << 10
)

// Config describes a host's peerlink stack. Zero fields take defaults.
type Config struct {
	// Port to bind; 0 picks an ephemeral port from the world's source.
	Port uint16
	// Node configures the core. Node.Rand must be nil: the host seeds it
	// from the world (see the package documentation).
	Node node.Config
	// Pump configures the queue policy and the kernel budget.
	Pump   pump.Config
	Socket netmodel.SocketConfig
	// RecvMessages and RecvBufferSize size the receive buffers; 0 means
	// pump.DefaultRecvMessages and pump.DefaultRecvBufferSize.
	RecvMessages   int
	RecvBufferSize int

	// OnEvent receives every Node event.
	OnEvent func(now time.Time, e node.Event)
	// OnData receives each application payload; it aliases a receive
	// buffer, so copy what you keep.
	OnData func(now time.Time, id node.ConnID, payload []byte)
	// OnWritable tells an application whose Send got gso.ErrQueueFull that
	// the queue has drained and it may send again. It is called once per
	// refusal.
	OnWritable func(now time.Time)
	// OnControl receives the timing of every Control datagram the host put
	// on the wire (see the package documentation).
	OnControl func(s ControlSample)
	// OnSettle runs at the end of every wake, for sampling the queue.
	OnSettle func(now time.Time, h *Host)
}

// ErrRandGiven: Config.Node.Rand was set; the host must own the seeding.
var ErrRandGiven = errors.New("host: Node.Rand must be nil; the host seeds it from the world")

// Stats counts what the host loop did.
type Stats struct {
	Wakes, Readable, Writable, Timeouts, Commands uint64
	Flushes, FlushErrors                          uint64
	AppRefused, AppWritable                       uint64
	ControlOnWire                                 uint64
	MaxControlDelay                               time.Duration
	// StreamDropped counts stream transmits to a server no AddStream
	// named.
	StreamDropped uint64
}

// Host is one simulated machine running a Node over one socket.
type Host struct {
	w     *world.World
	nh    *netmodel.Host
	sock  *netmodel.Socket
	conn  *tapConn
	pump  *pump.Pump
	timer *world.Timer
	cfg   Config
	msgs  []pump.Message

	depth int  // nesting of commands and wakes; only the outermost settles
	owed  bool // the application was refused Data and awaits OnWritable
	stats Stats

	// Listeners, called in the order they were added; Config's come first.
	onEvent    []func(now time.Time, e node.Event)
	onData     []func(now time.Time, id node.ConnID, payload []byte)
	onWritable []func(now time.Time)

	streams     []hostStream // relays over TCP or TLS (stream.go)
	streamTimer *world.Timer // wakes the host when a full stream has room
}

// New binds a socket on nh and starts a Node on it. The socket's address
// is registered as the Node's host candidate.
func New(w *world.World, nh *netmodel.Host, cfg Config) (*Host, error) {
	if cfg.Node.Rand != nil {
		return nil, ErrRandGiven
	}
	cfg.Node.Rand = rand.New(rand.NewPCG(w.Rand().Uint64(), w.Rand().Uint64()))
	if cfg.RecvMessages <= 0 {
		cfg.RecvMessages = pump.DefaultRecvMessages
	}
	if cfg.RecvBufferSize <= 0 {
		cfg.RecvBufferSize = pump.DefaultRecvBufferSize
	}
	n, err := node.New(cfg.Node)
	if err != nil {
		return nil, err
	}
	sock, err := nh.Bind(cfg.Port, cfg.Socket)
	if err != nil {
		return nil, err
	}
	h := &Host{w: w, nh: nh, sock: sock, cfg: cfg}
	if cfg.OnEvent != nil {
		h.OnEvent(cfg.OnEvent)
	}
	if cfg.OnData != nil {
		h.OnData(cfg.OnData)
	}
	if cfg.OnWritable != nil {
		h.OnWritable(cfg.OnWritable)
	}
	h.conn = newTapConn(h, sock)
	h.pump = pump.New(n, h.conn, cfg.Pump)
	h.msgs = make([]pump.Message, cfg.RecvMessages)
	for i := range h.msgs {
		h.msgs[i].Buf = make([]byte, cfg.RecvBufferSize)
	}
	h.timer = w.NewTimer(nh.Name()+"/deadline", h.onTimer)
	sock.SetNotify(h.onSocket)
	nh.Up().SetTap(h.conn.onWire)
	if err := n.AddLocalAddress(w.Now(), sock.LocalAddr()); err != nil {
		return nil, fmt.Errorf("host: registering %v: %w", sock.LocalAddr(), err)
	}
	h.settle(w.Now())
	return h, nil
}

// Name is the host's name in the trace.
func (h *Host) Name() string { return h.nh.Name() }

// OnEvent adds a listener for the Node's events (a signalling session, an
// application, a recorder).
func (h *Host) OnEvent(fn func(now time.Time, e node.Event)) { h.onEvent = append(h.onEvent, fn) }

// OnData adds a listener for application payloads; a payload aliases a
// receive buffer, so copy what you keep.
func (h *Host) OnData(fn func(now time.Time, id node.ConnID, payload []byte)) {
	h.onData = append(h.onData, fn)
}

// OnWritable adds a listener told, once per refusal, that a Send refused
// with gso.ErrQueueFull may be tried again.
func (h *Host) OnWritable(fn func(now time.Time)) { h.onWritable = append(h.onWritable, fn) }

// Node is the host's connection core. Use Do to issue commands, so that
// their output is flushed.
func (h *Host) Node() *node.Node { return h.pump.Node() }

// Pump is the host's pump, for its counters and its queue's.
func (h *Host) Pump() *pump.Pump { return h.pump }

// Socket is the host's simulated socket.
func (h *Host) Socket() *netmodel.Socket { return h.sock }

// Net is the simulated machine.
func (h *Host) Net() *netmodel.Host { return h.nh }

// LocalAddr is the socket's address (private, behind a NAT).
func (h *Host) LocalAddr() netip.AddrPort { return h.sock.LocalAddr() }

// Stats returns the loop's counters.
func (h *Host) Stats() Stats { return h.stats }

// QueuedBytes is the payload bytes waiting in the gso queue, by class.
func (h *Host) QueuedBytes() (control, data int) {
	s := h.pump.Queue().Stats()
	c, d := s.Classes[gso.Control], s.Classes[gso.Data]
	return int(c.BytesIn - c.BytesOut - c.DroppedBytes), int(d.BytesIn - d.BytesOut - d.DroppedBytes)
}

// Do runs an application command on the Node at the current virtual time,
// then collects its output and settles as a wake does. Call it only from
// inside a world event (or during setup).
func (h *Host) Do(fn func(now time.Time, n *node.Node) error) error {
	now := h.w.Now()
	h.depth++
	h.stats.Commands++
	err := fn(now, h.pump.Node())
	h.depth--
	h.settle(now)
	return err
}

// Send hands an application payload to connection id. gso.ErrQueueFull is
// back-pressure: OnWritable follows once a datagram left or the place that
// refused has room (pump.Pump.Writable); the first may be early, and the
// application is refused again.
func (h *Host) Send(id node.ConnID, payload []byte) error {
	now := h.w.Now()
	h.depth++
	if !h.owed {
		h.pump.ForgetRefusals() // as the driver does: nobody waits
	}
	err := h.pump.Send(now, id, payload)
	if errors.Is(err, gso.ErrQueueFull) {
		h.owed = true
		h.stats.AppRefused++
	}
	h.depth--
	h.settle(now)
	return err
}

func (h *Host) onSocket(now time.Time, ev netmodel.SocketEvent) {
	h.depth++
	h.stats.Wakes++
	switch ev {
	case netmodel.Readable:
		h.stats.Readable++
		h.receive(now)
	case netmodel.Writable:
		h.stats.Writable++
		h.pump.SetWritable()
	}
	h.depth--
	h.settle(now)
}

func (h *Host) onTimer(now time.Time) {
	h.depth++
	h.stats.Wakes++
	h.stats.Timeouts++
	h.pump.HandleTimeout(now)
	h.depth--
	h.settle(now)
}

func (h *Host) receive(now time.Time) {
	for i := 0; i < maxRecvRounds; i++ {
		n, err := h.sock.Recv(h.msgs)
		if n == 0 || err != nil {
			return
		}
		h.pump.HandleMessages(now, h.msgs[:n], func(id node.ConnID, b []byte) {
			for _, fn := range h.onData {
				fn(now, id, b)
			}
		})
	}
	panic("host: receive queue never emptied")
}

// settle finishes a wake with the pump's step: events out, queue flushed
// through the socket, a refused application told it may send, and the
// timer re-armed. Only the outermost call acts. Every call into the pump
// happens at one instant, so the Control datagrams a step reports as
// queued entered the queue at now.
func (h *Host) settle(now time.Time) {
	if h.depth > 0 {
		return
	}
	h.depth++
	defer func() { h.depth-- }()
	events := 0
	deliver := func(e node.Event) {
		if events++; events > maxSettleRounds {
			panic("host: events kept coming")
		}
		for _, fn := range h.onEvent {
			fn(now, e)
		}
	}
	var s pump.StepResult
	for i := 0; ; i++ {
		if i == maxSettleRounds {
			panic("host: callbacks kept issuing commands")
		}
		var sent int
		events = 0 // the bound is per round, as commands are
		s, sent = h.step(now, deliver)
		h.flushStreams(now)
		// A datagram sent makes room in the queue; a stream's flush may
		// have made room in the outbox without one.
		if !h.owed || len(h.onWritable) == 0 || sent == 0 && !h.pump.Writable() {
			break
		}
		h.owed = false
		h.stats.AppWritable++
		for _, fn := range h.onWritable {
			fn(now)
		}
	}
	h.arm(s)
	if h.cfg.OnSettle != nil {
		h.cfg.OnSettle(now, h)
	}
}

// step takes the pump's step and makes the Send of each round it hands
// out in place, since the simulated socket answers at once; it returns the
// last step and the datagrams its flushes sent.
func (h *Host) step(now time.Time, deliver func(node.Event)) (s pump.StepResult, sent int) {
	s = h.pump.Step(now, deliver)
	for {
		h.conn.noteEnqueued(now, s.ControlQueued)
		if s.Flushed {
			sent += s.Flush.Datagrams
			h.noteFlush(s.Err)
		}
		if s.Round == nil && !s.Again {
			return s, sent
		}
		if s.Round != nil {
			h.pump.Sent(h.conn.Send(s.Round))
		}
		s = h.pump.Step(now, deliver)
	}
}

func (h *Host) noteFlush(err error) {
	h.stats.Flushes++
	if err != nil {
		h.stats.FlushErrors++
	}
}

// arm sets the timer to the pump's next deadline, leaving an already
// matching timer alone so an unchanged deadline costs no queue operation.
func (h *Host) arm(s pump.StepResult) {
	at, ok := s.Next.At, s.HasNext
	if !ok {
		h.timer.Stop()
		return
	}
	if cur, pending := h.timer.When(); pending && cur.Equal(at) {
		return
	}
	h.timer.Reset(at)
}
