package iceagent

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// Params are what one agent needs besides the shared Config.
type Params struct {
	Role ice.Role
	// Local are our credentials; Remote the peer's, from signalling.
	Local, Remote ice.Credentials
	// TieBreaker settles role conflicts; draw it from the seeded source.
	TieBreaker uint64
	// TxTag becomes the first four bytes of every transaction ID the agent
	// creates, so that the owner can route a response to its agent without
	// a table of transactions. The remaining eight bytes come from Rand.
	TxTag uint32
	// Rand is the seeded source for transaction IDs. It may be shared with
	// other agents of the same owner (everything runs on one goroutine).
	Rand *rand.Rand
}

// Agent is the ICE state of one connection: its candidates and pairs, the
// connectivity checks, nomination, and liveness probes on the selected
// path. It is sans-IO like the Node that owns it: inputs take now, outputs
// are polled.
//
// The package documentation lists its methods by group.
type Agent struct {
	cfg        ice.Config
	rng        *rand.Rand
	role       ice.Role
	tieBreaker uint64
	txTag      uint32
	local      ice.Credentials
	remote     ice.Credentials
	createdAt  time.Time
	failed     ice.FailReason

	locals []stunmsg.Candidate // base candidates only: host and relay
	// reflexive: our server-reflexive candidates, not paired (valid.go).
	reflexive []stunmsg.Candidate
	remotes   []stunmsg.Candidate
	hadPair   bool
	pairSeq   uint64

	pairs       []*pair // highest priority first
	triggered   []*pair // FIFO of triggered checks, ahead of ordinary ones
	nextCheckAt time.Time
	checks      []*txn // checks in flight, in send order
	// expired: checks that gave up, kept a while for late answers (late.go).
	expired []expiredCheck
	probes  []probe

	nominating *pair
	selected   *pair
	live       liveness
	// recheckAt is when failed pairs ranking above the selected one go
	// back to waiting (Config.RecheckInterval); zero until a pair is
	// selected.
	recheckAt time.Time
	// backupProbeAt is when the last backup probe left (or the path was
	// selected): the next goes one backup interval later (failover.go).
	backupProbeAt time.Time

	transmits []Transmit
	txHead    int
	events    []Event
	evHead    int
	stats     ice.Stats
	rtt       rttEstimator
	// lastAnswerAt: the last authenticated answer to a check or probe.
	lastAnswerAt time.Time

	// recovering: the selected pair lost its candidate and the agent is
	// checking for a new one (recovery.go); recoverReason is what it fails
	// with if none comes. noRecovery: the owner turned recovery off.
	recovering    bool
	recoverReason ice.FailReason
	noRecovery    bool
	// roam: the peer withdrew the selected pair's remote candidate
	// (roam.go).
	roam roam
}

// New creates an agent. The config must be complete (Config.WithDefaults).
func New(now time.Time, cfg ice.Config, p Params) *Agent {
	if p.Rand == nil {
		panic("ice: nil Rand")
	}
	return &Agent{
		cfg: cfg, rng: p.Rand, role: p.Role, tieBreaker: p.TieBreaker, txTag: p.TxTag,
		local: p.Local, remote: p.Remote, createdAt: now, nextCheckAt: now,
	}
}

// Role is the current role; a role conflict may have changed it.
func (a *Agent) Role() ice.Role { return a.role }

// Credentials returns our and the peer's credentials.
func (a *Agent) Credentials() (local, remote ice.Credentials) { return a.local, a.remote }

// Selected returns the path in use, if any.
func (a *Agent) Selected() (ice.Path, bool) {
	if a.selected == nil {
		return ice.Path{}, false
	}
	return a.selected.path(), true
}

// Failure returns why the agent failed, or 0 while it has not.
func (a *Agent) Failure() ice.FailReason { return a.failed }

// Idle reports whether the selected path runs on idle timing.
func (a *Agent) Idle() bool { return a.live.idle }

// PollTransmit returns the next STUN message to send. Inputs and commands
// add to it; HandleTimeout most of all.
func (a *Agent) PollTransmit() (Transmit, bool) {
	if a.txHead == len(a.transmits) {
		a.transmits, a.txHead = a.transmits[:0], 0
		return Transmit{}, false
	}
	t := a.transmits[a.txHead]
	a.transmits[a.txHead] = Transmit{}
	a.txHead++
	if a.txHead == len(a.transmits) {
		a.transmits, a.txHead = a.transmits[:0], 0
	}
	return t, true
}

// PollEvent returns the next event.
func (a *Agent) PollEvent() (Event, bool) {
	if a.evHead == len(a.events) {
		a.events, a.evHead = a.events[:0], 0
		return Event{}, false
	}
	e := a.events[a.evHead]
	a.evHead++
	if a.evHead == len(a.events) {
		a.events, a.evHead = a.events[:0], 0
	}
	return e, true
}

// Abort fails the agent with reason r (EventFailed) unless it has failed
// already; the Node uses it when it finds the agent's state inconsistent.
func (a *Agent) Abort(r ice.FailReason) {
	if a.failed == 0 {
		a.fail(r)
	}
}

func (a *Agent) fail(r ice.FailReason) {
	if a.failed != 0 {
		panic(fmt.Sprintf("ice: failing twice (%v after %v)", r, a.failed))
	}
	a.failed = r
	a.checks, a.triggered, a.probes, a.expired = nil, nil, nil, nil
	a.events = append(a.events, Event{Kind: EventFailed, Reason: r})
}

func (a *Agent) send(src, dst netip.AddrPort, b []byte) {
	a.transmits = append(a.transmits, Transmit{Src: src, Dst: dst, Payload: b})
}

func (a *Agent) newTxID() stunmsg.TxID {
	var id stunmsg.TxID
	binary.BigEndian.PutUint32(id[0:4], a.txTag)
	binary.BigEndian.PutUint64(id[4:12], a.rng.Uint64())
	return id
}

// TxTag extracts the routing tag from a transaction ID (see Params.TxTag).
func TxTag(id stunmsg.TxID) uint32 { return binary.BigEndian.Uint32(id[0:4]) }
