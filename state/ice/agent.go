package ice

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// Params are what one agent needs besides the shared Config.
type Params struct {
	Role Role
	// Local are our credentials; Remote the peer's, from signalling.
	Local, Remote Credentials
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
// Method groups: getters (Role, Selected, Recovering, Failure, Stats,
// Credentials); inputs (HandleRequest, HandleResponse, HandleTimeout);
// commands (AddLocalCandidate, AddReflexiveCandidate, AddRemoteCandidate, RemoveRemoteCandidate,
// RemoveLocalCandidate, SetRecovery, NotifyAppTraffic); outputs (PollTransmit, PollEvent, PollTimeout). Any
// input or command may add output; drain it after each.
type Agent struct {
	cfg        Config
	rng        *rand.Rand
	role       Role
	tieBreaker uint64
	txTag      uint32
	local      Credentials
	remote     Credentials
	createdAt  time.Time
	failed     FailReason

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
	stats     Stats
	rtt       rttEstimator
	// lastAnswerAt: the last authenticated answer to a check or probe.
	lastAnswerAt time.Time

	// recovering: the selected pair lost its candidate and the agent is
	// checking for a new one (recovery.go); recoverReason is what it fails
	// with if none comes. noRecovery: the owner turned recovery off.
	recovering    bool
	recoverReason FailReason
	noRecovery    bool
	// roam: the peer withdrew the selected pair's remote candidate
	// (roam.go).
	roam roam
}

// New creates an agent. The config must be complete (Config.WithDefaults).
func New(now time.Time, cfg Config, p Params) *Agent {
	if p.Rand == nil {
		panic("ice: nil Rand")
	}
	return &Agent{
		cfg: cfg, rng: p.Rand, role: p.Role, tieBreaker: p.TieBreaker, txTag: p.TxTag,
		local: p.Local, remote: p.Remote, createdAt: now, nextCheckAt: now,
	}
}

// Role is the current role; a role conflict may have changed it.
func (a *Agent) Role() Role { return a.role }

// Credentials returns our and the peer's credentials.
func (a *Agent) Credentials() (local, remote Credentials) { return a.local, a.remote }

// Selected returns the path in use, if any.
func (a *Agent) Selected() (Path, bool) {
	if a.selected == nil {
		return Path{}, false
	}
	return a.selected.path(), true
}

// Failure returns why the agent failed, or 0 while it has not.
func (a *Agent) Failure() FailReason { return a.failed }

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

// timer names the agent's deadlines; PollTimeout returns the earliest with
// its name as the reason.
type timer uint8

const (
	timerCandidates timer = iota
	timerRetransmit
	timerPacing
	timerNominate
	timerProbeTimeout
	timerProbe
	timerIdle
	timerRecheck
	timerProbeLost
	timerBackupProbe
	timerSwitch
	timerRecover
	timerRoam
	numTimers
)

var timerNames = [numTimers]string{"candidate-timeout", "check-retransmit", "check-pacing", "nominate",
	"probe-timeout", "probe", "idle", "recheck", "probe-lost",
	"backup-probe", "switch", "recovery-timeout", "roam"}

// PollTimeout returns when HandleTimeout must next be called and why. It
// changes after every input and command. A deadline may lie in the past
// (work became due while other input was handled); call HandleTimeout then.
func (a *Agent) PollTimeout() (time.Time, string, bool) {
	var best time.Time
	reason, ok := "", false
	for t := range numTimers {
		d, armed := a.deadline(t)
		if armed && (!ok || d.Before(best)) {
			best, reason, ok = d, timerNames[t], true
		}
	}
	return best, reason, ok
}

func (a *Agent) deadline(t timer) (time.Time, bool) {
	if a.failed != 0 {
		return time.Time{}, false
	}
	switch t {
	case timerCandidates:
		return a.createdAt.Add(a.cfg.CandidateTimeout), !a.hadPair
	case timerRetransmit:
		var d time.Time
		for i, x := range a.checks {
			if i == 0 || x.nextAt.Before(d) {
				d = x.nextAt
			}
		}
		return d, len(a.checks) > 0
	case timerPacing:
		return a.nextCheckAt, a.checkPending()
	case timerNominate:
		return a.nominateDeadline()
	case timerRecheck:
		return a.recheckAt, a.recheckWanted()
	case timerProbeLost:
		return a.probeLostDeadline()
	case timerBackupProbe:
		return a.backupProbeDeadline()
	case timerSwitch:
		return a.switchDeadline()
	case timerRecover:
		return a.recoverDeadline()
	case timerRoam:
		return a.roamDeadline()
	default:
		if a.recovering {
			// No selected pair to probe; recoverDeadline holds the timeout.
			return time.Time{}, false
		}
		return a.live.deadline(t, &a.cfg)
	}
}

// HandleTimeout runs every timer that is due at now.
func (a *Agent) HandleTimeout(now time.Time) {
	if a.failed != 0 {
		return
	}
	if !a.hadPair && !now.Before(a.createdAt.Add(a.cfg.CandidateTimeout)) {
		a.fail(CandidateTimeout)
		return
	}
	a.retransmitChecks(now)
	a.maybeNominate(now)
	// Before the paced send: a recheck makes a check due at once.
	a.recheckDue(now)
	a.countLostProbes(now)
	// Before the switch: idle timing lengthens the timeout a backup's
	// answer must fall within, which may make the switch due at once.
	a.enterIdle(now)
	// Before the liveness timeout, so that a working backup replaces a
	// silent path instead of the connection failing, and before the paced
	// send, since the switch triggers a nominating check.
	a.maybeSwitch(now)
	a.maybeRoam(now)
	if a.checkPending() && !now.Before(a.nextCheckAt) {
		a.sendNextCheck(now)
	}
	// After the paced send and the answers it may bring: a recovery whose
	// deadline passes fails here, at the lost path's probe timeout.
	a.recoverTimeout(now)
	a.handleLiveness(now)
	a.probeBackup(now)
	a.failIfAllChecksFailed()
}

// Abort fails the agent with reason r (EventFailed) unless it has failed
// already; the Node uses it when it finds the agent's state inconsistent.
func (a *Agent) Abort(r FailReason) {
	if a.failed == 0 {
		a.fail(r)
	}
}

func (a *Agent) fail(r FailReason) {
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
