package host

import (
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// ControlSample is the journey of one Control datagram through its host.
type ControlSample struct {
	Host     string
	Enqueued time.Time // entered the gso queue (see the package documentation)
	Taken    time.Time // the socket accepted it
	Wire     time.Time // its last bit left the host's uplink
}

// Delay is the whole wait: enqueue to wire.
func (s ControlSample) Delay() time.Duration { return s.Wire.Sub(s.Enqueued) }

// arrival is a run of Control datagrams that entered the queue at one
// instant.
type arrival struct {
	at time.Time
	n  uint64
}

// inFlight is one datagram the socket took and the uplink has yet to
// serialize; Data entries hold their place in line.
type inFlight struct {
	control         bool
	enqueued, taken time.Time
}

// tapConn is the host's pump.Conn: the socket itself, plus the bookkeeping
// that times Control datagrams. It changes nothing the pump sees except
// that it reports the socket's unsent bytes (pump.UnsentCounter), which a
// Linux socket reports through SIOCOUTQ, so a configured kernel budget
// works in the simulator as it does on Linux.
type tapConn struct {
	h    *Host
	sock *netmodel.Socket
	// dropOwed counts Control datagrams dropped from the queue before the
	// step that queued them reported them.
	dropOwed uint64
	arrivals []arrival // Control enqueued and not yet taken, oldest first
	line     []inFlight
	lineHead int // line[lineHead:] is waiting for the uplink
}

var (
	_ pump.Conn          = (*tapConn)(nil)
	_ pump.UnsentCounter = (*tapConn)(nil)
)

func newTapConn(h *Host, s *netmodel.Socket) *tapConn { return &tapConn{h: h, sock: s} }

func (c *tapConn) Caps() gso.Caps                     { return c.sock.Caps() }
func (c *tapConn) Recv(m []pump.Message) (int, error) { return c.sock.Recv(m) }
func (c *tapConn) Close() error                       { return c.sock.Close() }
func (c *tapConn) UnsentBytes() (int, error)          { return c.sock.SendBufferUsed(), nil }

// noteEnqueued records n Control datagrams that entered the queue at now
// (pump.StepResult.ControlQueued); those dropped before they were recorded
// (noteDropped) are taken off first.
func (c *tapConn) noteEnqueued(now time.Time, n uint64) {
	k := min(n, c.dropOwed)
	n, c.dropOwed = n-k, c.dropOwed-k
	if n > 0 {
		c.arrivals = append(c.arrivals, arrival{at: now, n: n})
	}
}

// Send passes the batches to the socket and lines up what it took, in the
// order the uplink will serialize it.
func (c *tapConn) Send(batches []*gso.Batch) (int, error) {
	now := c.h.w.Now()
	n, err := c.sock.Send(batches)
	left := n
	for _, b := range batches {
		if left == 0 {
			break
		}
		k := min(left, b.Segments())
		left -= k
		for range k {
			c.line = append(c.line, c.entry(b.Class(), now))
		}
	}
	return n, err
}

func (c *tapConn) entry(class gso.Class, now time.Time) inFlight {
	if class != gso.Control {
		return inFlight{}
	}
	e := inFlight{control: true, taken: now, enqueued: now}
	if len(c.arrivals) == 0 {
		// Every Control datagram is counted in before the socket can take
		// it; an empty record means the bookkeeping is broken.
		panic("host: Control datagram taken that was never seen enqueued")
	}
	a := &c.arrivals[0]
	e.enqueued = a.at
	if a.n--; a.n == 0 {
		c.arrivals = c.arrivals[1:]
		if len(c.arrivals) == 0 {
			c.arrivals = c.arrivals[:0:0]
		}
	}
	return e
}

// onWire is the uplink's tap: the oldest datagram in line has left.
func (c *tapConn) onWire(now time.Time, _ *netmodel.Packet) {
	if c.lineHead == len(c.line) {
		panic("host: the uplink sent a datagram the socket never took")
	}
	e := c.line[c.lineHead]
	c.lineHead++
	if c.lineHead == len(c.line) {
		c.line, c.lineHead = c.line[:0], 0
	} else if c.lineHead >= 1024 && 2*c.lineHead >= len(c.line) {
		// Keep the line's memory bounded by what the send buffer holds.
		c.line = c.line[:copy(c.line, c.line[c.lineHead:])]
		c.lineHead = 0
	}
	if !e.control {
		return
	}
	s := ControlSample{Host: c.h.Name(), Enqueued: e.enqueued, Taken: e.taken, Wire: now}
	st := &c.h.stats
	st.ControlOnWire++
	st.MaxControlDelay = max(st.MaxControlDelay, s.Delay())
	if c.h.cfg.OnControl != nil {
		c.h.cfg.OnControl(s)
	}
}
