package node

import (
	"net/netip"
	"time"

	"github.com/google/btree"
	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/internal/iceagent"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/timer"
)

// Node is the sans-IO connection core of one process (or one socket set):
// every connection, its ICE agent, the local addresses and the STUN
// servers. See the package documentation for the event loop that drives it.
type Node struct {
	cfg Config
	now time.Time // the latest time inside; inputs never move it back
	// skew is how far the caller's clock runs ahead of the Node's: clock
	// steps back and jumps forward (see Config.MaxLateness) are absorbed
	// here, so that time inside moves on smoothly from where it was.
	// PollTimeout adds it back.
	skew time.Duration

	conns  map[ConnID]*conn // lookup only; never ranged over
	order  *btree.BTreeG[ConnID]
	timers *btree.BTreeG[timerItem]
	ufrags map[string]ConnID // local ufrag -> connection, to route checks
	tags   map[uint32]ConnID // transaction tag -> connection, to route responses
	routes map[route]ConnID  // (local, remote) -> connection, for app data
	// forgotten counts connections removed, so that a loop holding a
	// *conn across a callback (HandleSegments' deliver) can tell cheaply
	// whether it may still use it.
	forgotten uint64

	locals []stunmsg.Candidate // host candidates, in registration order
	// removed are addresses RemoveLocalAddress took away, newest last,
	// at most Config.MaxLocalAddresses (roam.go).
	removed []netip.AddrPort
	gather  gatherer

	relays   []*relay // in the order added; bounded by Config.MaxRelays
	relaySeq uint64
	// arena holds the frames relay clients wrap around outgoing datagrams;
	// it is reused once every transmit has been polled, so relayed sending
	// allocates nothing in steady state.
	arena []byte
	// one carries a relayed payload to SendBatch's emit as a run of one.
	one [1][]byte

	msg stun.Message // reused for decoding

	out     []Transmit
	outHead int
	events  []Event
	evHead  int
	stats   Stats

	// faults are set only by tests, to force the conditions the Node must
	// survive (a timer that does not advance); nil in every program.
	faults *faults
}

// faults are test-only fault injections.
type faults struct {
	// skipTimeouts: a due connection's or relay's timers are not run, so
	// its deadline stays where it was.
	skipTimeouts bool
	// skipFirstStep: only the first step of a connection at an instant
	// skips its timers, as a step does whose own later checks made it due
	// again.
	skipFirstStep bool
}

type route struct{ local, remote netip.AddrPort }

// gatherTag is the transaction tag of the Node's own STUN server requests;
// connections get random non-zero tags.
const gatherTag = 0

// New creates a Node.
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:    cfg,
		conns:  make(map[ConnID]*conn),
		order:  btree.NewOrderedG[ConnID](16),
		timers: btree.NewG(16, timerItem.less),
		ufrags: make(map[string]ConnID),
		tags:   make(map[uint32]ConnID),
		routes: make(map[route]ConnID),
	}
	for _, s := range cfg.StunServers {
		n.gather.addServer(s)
	}
	return n, nil
}

// ---- getters ----

// Stats returns the drop and correction counters.
func (n *Node) Stats() Stats { return n.stats }

// Path returns the selected path of a connection.
func (n *Node) Path(id ConnID) (Path, bool) {
	c, ok := n.conns[id]
	if !ok || c.failed != 0 {
		return Path{}, false
	}
	return c.selected()
}

// LocalCredentials returns the credentials a connection uses, to signal
// them to the peer.
func (n *Node) LocalCredentials(id ConnID) (Credentials, bool) {
	c, ok := n.conns[id]
	if !ok {
		return Credentials{}, false
	}
	return c.local, true
}

// Agent exposes a connection's agent to tests in this module (read-only use).
func (n *Node) agentOf(id ConnID) *iceagent.Agent { return n.conns[id].agent }

// ---- outputs ----

// PollTransmit returns the next datagram to send. Any input or command may
// add some; drain until false after each. Control transmits come from STUN
// (checks, answers, probes, server requests); Data from Send.
func (n *Node) PollTransmit() (Transmit, bool) {
	if n.outHead == len(n.out) {
		n.out, n.outHead = n.out[:0], 0
		n.arena = n.arena[:0]
		return Transmit{}, false
	}
	t := n.out[n.outHead]
	n.out[n.outHead] = Transmit{}
	n.outHead++
	if n.outHead == len(n.out) {
		// Reuse the backing arrays: steady-state sending allocates nothing.
		// The returned payload may live in the arena; the next call into
		// the Node is what may overwrite it, as Transmit.Payload says.
		n.out, n.outHead = n.out[:0], 0
		n.arena = n.arena[:0]
	}
	return t, true
}

// PollEvent returns the next event for the application.
func (n *Node) PollEvent() (Event, bool) {
	if n.evHead == len(n.events) {
		n.events, n.evHead = n.events[:0], 0
		return nil, false
	}
	e := n.events[n.evHead]
	n.events[n.evHead] = nil
	n.evHead++
	if n.evHead == len(n.events) {
		n.events, n.evHead = n.events[:0], 0
	}
	return e, true
}

// PollTimeout returns when HandleTimeout must next be called and a label
// for why, "machine: timer" ("ice: probe", "ice: check-retransmit",
// "node: stun-retransmit", a relay's "turn: keepalive", ...; package
// timer): connections and relays share one ordered index,
// so this is O(log n). It never
// returns a time before the latest now given to the Node: a deadline that
// is already due comes back as that now. ok is false when nothing is
// scheduled. Inputs and commands change it; ask again after each.
func (n *Node) PollTimeout() (deadline time.Time, reason string, ok bool) {
	next := n.next()
	next.NotBefore(n.now)
	deadline, reason, ok = next.Poll()
	return deadline.Add(n.skew), reason, ok
}

// next is the earliest deadline inside, without the skew.
func (n *Node) next() timer.Next {
	var next timer.Next
	if it, found := n.timers.Min(); found {
		next.Offer(it.at, it.reason)
	}
	n.gather.offerDeadline(&next)
	return next
}

// clock turns the caller's now into time inside the Node, which never
// goes backwards and never leaps past a deadline by more than
// Config.MaxLateness: a step back is clamped to the latest time (and the
// Node carries on from there as the caller's clock advances), a jump
// forward resumes at the earliest deadline, so that every timer that was
// due fires once rather than once per period the gap held. Both are
// counted.
func (n *Node) clock(now time.Time) time.Time {
	t := now.Add(-n.skew)
	if t.Equal(n.now) {
		// The time the last call settled on: its lateness was checked
		// then, and every timer set since is due no earlier. A batch of
		// sends at one instant pays for the check once.
		return t
	}
	if t.Before(n.now) {
		n.stats.ClockBackwards++
		n.skew = now.Sub(n.now)
		return n.now
	}
	if d, ok := n.next().Deadline(); ok && t.Sub(d.At) > n.cfg.MaxLateness {
		n.stats.ClockJumps++
		resume := d.At
		if resume.Before(n.now) {
			resume = n.now
		}
		n.skew = now.Sub(resume)
		t = resume
	}
	n.now = t
	return t
}

func (n *Node) transmit(src, dst netip.AddrPort, b []byte, class gso.Class) {
	n.out = append(n.out, Transmit{Src: src, Dst: dst, Payload: b, Class: class})
}

func (n *Node) emit(e Event) { n.events = append(n.events, e) }

func (n *Node) drop(r DropReason) { n.stats.Dropped[r]++ }
