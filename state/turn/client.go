package turn

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/timer"
)

// Client is the TURN client for one relay: the Binding that finds the
// server-reflexive address and proves the server alive, the allocation and
// its refreshes, permissions and channels, and the relayed data in both
// directions. It is a pure state machine: it never reads a clock, never
// touches a socket and is not safe for concurrent use.
type Client struct {
	id    Identity
	cfg   Config
	state State
	// now is the latest time seen; time never moves backwards inside.
	now     time.Time
	started bool

	cred      credentials
	reflexive netip.AddrPort
	relayed   netip.AddrPort
	// relayed2 is a dual-stack grant's address of the other family;
	// family what the next Allocate asks for (family.go).
	relayed2 netip.AddrPort
	family   Family
	// server and local are the 5-tuple in use: Config's, or its
	// Alternate's once that answered first (race.go).
	server, local netip.AddrPort
	granted       time.Duration
	// refreshAt and keepaliveAt matter only while allocated.
	refreshAt   time.Time
	keepaliveAt time.Time
	// lastHeard is the last valid response from the server: a request that
	// times out while the server answered others means "this request is
	// not going to work", not "the server is gone".
	lastHeard time.Time
	// answers counts the valid responses; a transaction notes the count
	// when it starts, so any answer after it proves the server alive
	// (also within one instant, where times cannot tell the order).
	answers uint64
	// reallocs counts re-allocations since the last successful Refresh.
	reallocs int
	// mismatches counts 437 answers to Allocate since the last grant;
	// allocateAt is when the Allocate waiting out the server's deletion
	// of its stale allocation goes out (zero: none waits; realloc.go).
	mismatches int
	allocateAt time.Time
	// heldAt is the last time an answer proved the server holds the
	// allocation (a Refresh, permission or channel success, a 437 to a
	// probe): silence after it is loss, not a lost allocation.
	heldAt time.Time
	// lostProbe is the transaction ID of a probe that went unanswered
	// (lostProbeSet): it may have created the allocation the server now
	// holds, so every later probe reuses it until an answer settles it
	// (realloc.go).
	lostProbe    stunmsg.TxID
	lostProbeSet bool
	// verifiedAt is the last Verify or StreamReset that sent a Refresh
	// (verify.go).
	verifiedAt time.Time
	// verifyWait is the least time from verifiedAt to the next Verify:
	// VerifyInterval, doubled after each verification that found the
	// allocation alive, up to maxVerifyWait (verify.go).
	verifyWait time.Duration

	// learnedRefresh, when set, shortens every permission and channel
	// refresh period: the server's lifetimes are shorter than RFC 8656's
	// (reinstall.go).
	learnedRefresh time.Duration
	// srtt is the smoothed round trip to the server, from answers to
	// requests sent once (Karn: a retransmitted request's answer cannot
	// tell which send it answers); zero until the first.
	srtt time.Duration

	txs   []*transaction
	peers peerTable

	transmits []Transmit
	events    []Event
	stats     Stats
}

// New returns a client for the relay id names and starts it: the first
// Binding request is queued at once. cfg gets its defaults filled in.
func New(now time.Time, id Identity, cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	id.Server, id.Alternate = stunmsg.Unmap(id.Server), stunmsg.Unmap(id.Alternate)
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{id: id, cfg: cfg, now: now, lastHeard: now, state: StateBinding, family: id.Family,
		server: id.Server, local: id.Local}
	c.cred.username = id.Username
	c.peers.init(&c.cfg)
	c.startTx(request{kind: txBinding}, 0)
	return c, nil
}

// Getters. None of them changes state.

// Identity returns the identity the client was made with (its Server
// unmapped from IPv4-mapped IPv6).
func (c *Client) Identity() Identity { return c.id }

// Config returns the configuration in use, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Server returns the relay server's address: the node hands this client
// every datagram from it.
func (c *Client) Server() netip.AddrPort { return c.server }

// Local returns the local socket address the client sends from.
func (c *Client) Local() netip.AddrPort { return c.local }

// State returns where the client is in its life.
func (c *Client) State() State { return c.state }

// Relayed returns the relayed address while allocated.
func (c *Client) Relayed() (netip.AddrPort, bool) { return c.relayed, c.state == StateAllocated }

// Reflexive returns the server-reflexive address once a Binding or Allocate
// response told it.
func (c *Client) Reflexive() (netip.AddrPort, bool) { return c.reflexive, c.reflexive.IsValid() }

// Lifetime returns the allocation lifetime the server granted last.
func (c *Client) Lifetime() time.Duration { return c.granted }

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats { return c.stats }

// RTT returns the smoothed round trip to the server (RFC 6298's weights,
// from answers to requests sent once); ok is false until the first.
func (c *Client) RTT() (rtt time.Duration, ok bool) { return c.srtt, c.srtt > 0 }

// Outputs. Drain each until empty after every input.

// PollTransmit returns the next datagram to send, all Control class. New
// ones appear after any input or command.
func (c *Client) PollTransmit() (Transmit, bool) {
	if len(c.transmits) == 0 {
		return Transmit{}, false
	}
	t := c.transmits[0]
	c.transmits[0] = Transmit{}
	c.transmits = c.transmits[1:]
	if len(c.transmits) == 0 {
		c.transmits = c.transmits[:0:0]
	}
	return t, true
}

// PollEvent returns the next event. New ones appear after any input or
// command.
func (c *Client) PollEvent() (Event, bool) {
	if len(c.events) == 0 {
		return Event{}, false
	}
	e := c.events[0]
	c.events = c.events[1:]
	if len(c.events) == 0 {
		c.events = c.events[:0:0]
	}
	return e, true
}

// PollTimeout returns when HandleTimeout must next be called and why. It
// changes after any input or command. ok is false when nothing is
// scheduled (the client is closed or lost). The deadline is never before
// the latest now given to the client.
func (c *Client) PollTimeout() (deadline time.Time, reason string, ok bool) {
	if c.state.Terminal() {
		return time.Time{}, "", false
	}
	var next timer.Next
	for _, tx := range c.txs {
		next.Offer(tx.nextAt, retransmitReasons[tx.req.kind])
	}
	if c.allocateWaits() {
		next.Offer(c.allocateAt, "turn: allocate-backoff")
	}
	if c.state == StateAllocated {
		if c.pending(txBinding, peerKey{}) == nil {
			next.Offer(c.keepaliveAt, "turn: keepalive")
		}
		if c.pending(txRefresh, peerKey{}) == nil && !c.probing() {
			next.Offer(c.refreshAt, "turn: allocation-refresh")
		}
		c.peers.offerDeadlines(c, &next)
	}
	next.NotBefore(c.now)
	return next.Poll()
}

// Inputs.

// HandleTimeout runs everything due at now: retransmissions, request
// failures, keepalives, refreshes and cooldown expiry.
func (c *Client) HandleTimeout(now time.Time) {
	c.advance(now)
	if c.state.Terminal() {
		return
	}
	c.retransmitDue()
	if c.allocateWaits() && !c.allocateAt.After(c.now) {
		c.allocateAt = time.Time{}
		c.startAllocate()
	}
	if c.state != StateAllocated {
		return
	}
	if !c.keepaliveAt.After(c.now) && c.pending(txBinding, peerKey{}) == nil {
		c.keepaliveAt = c.now.Add(c.cfg.KeepaliveInterval)
		c.startTx(request{kind: txBinding}, 0)
	}
	if !c.refreshAt.After(c.now) && c.pending(txRefresh, peerKey{}) == nil && !c.probing() {
		c.startTx(request{kind: txRefresh, lifetime: c.cfg.Lifetime}, 0)
		if c.lostProbeSet {
			// The Refresh may succeed on the lost probe's allocation and
			// prove nothing; the probe's own answer settles it.
			c.probe()
		}
	}
	c.peers.refreshDue(c)
}

// advance moves the client's clock to now, never backwards.
func (c *Client) advance(now time.Time) {
	if now.Before(c.now) {
		c.stats.ClockBackwards++
		return
	}
	c.now = now
}

// Commands.

// Close releases the allocation: a Refresh with LIFETIME 0, then
// EventClosed when the server answers or the request times out. Without
// an allocation it closes at once. Closing twice is harmless.
func (c *Client) Close(now time.Time) {
	c.advance(now)
	if c.state.Terminal() || c.state == StateReleasing {
		return
	}
	wasAllocating := c.state == StateAllocating
	c.withdraw()
	c.txs = c.txs[:0]
	c.lostProbeSet = false
	c.peers.reset()
	// An authenticated Allocate in flight may have created an allocation
	// the server would otherwise keep for its whole lifetime.
	if c.state == StateAllocated || wasAllocating && c.cred.valid() {
		c.state = StateReleasing
		c.startTx(request{kind: txRefresh, lifetime: 0}, 0)
		return
	}
	c.finish(StateClosed, Event{Kind: EventClosed})
}

// Helpers shared by the sub-machines.

func (c *Client) queueTransmit(b []byte) {
	if len(c.transmits) >= c.cfg.MaxQueued {
		c.transmits = c.transmits[1:]
		c.stats.TransmitsDropped++
	}
	c.transmits = append(c.transmits, Transmit{Src: c.local, Dst: c.server, Payload: b, Class: gso.Control, Transport: c.id.Transport})
	c.raceTransmit(b)
}

func (c *Client) emit(e Event) {
	if len(c.events) >= c.cfg.MaxQueued {
		c.events = c.events[1:]
		c.stats.EventsDropped++
	}
	c.events = append(c.events, e)
}

// withdraw announces that the relayed address is gone, if there was one.
func (c *Client) withdraw() {
	if c.relayed.IsValid() {
		c.emit(Event{Kind: EventWithdrawn, Relayed: c.relayed, Additional: c.relayed2})
		c.relayed, c.relayed2 = netip.AddrPort{}, netip.AddrPort{}
	}
}

// lose ends the client: the relay is gone for reason.
func (c *Client) lose(reason LostReason, code int) {
	c.withdraw()
	c.txs = c.txs[:0]
	c.lostProbeSet = false
	c.peers.reset()
	c.finish(StateLost, Event{Kind: EventLost, Reason: reason, Code: code})
}

func (c *Client) finish(s State, e Event) {
	c.state = s
	c.emit(e)
}
