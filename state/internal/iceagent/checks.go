package iceagent

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/pion/stun/v2"
)

// txn is a connectivity check in flight. Retransmissions reuse its
// transaction ID and bytes (RFC 8489 section 6.2.1).
type txn struct {
	id           stunmsg.TxID
	pair         *pair
	src, dst     netip.AddrPort
	payload      []byte
	role         ice.Role // the role the request claimed
	useCandidate bool
	sends        int
	sentAt       time.Time // first send, for an RTT sample if never resent
	rto          time.Duration
	nextAt       time.Time // next retransmission, or give-up after the last send
}

// probe is a liveness request on the selected path. Probes are not
// retransmitted: the next probe is the retry.
type probe struct {
	id       stunmsg.TxID
	pair     *pair
	src, dst netip.AddrPort
	sentAt   time.Time
	// answered: an authenticated answer came; lost: none came within
	// Config.ProbeLossAfter (a late answer may still set answered).
	answered, lost bool
}

// checkPending reports whether a paced check is waiting to go out.
func (a *Agent) checkPending() bool {
	for _, p := range a.triggered {
		if p.needsCheck() {
			return true
		}
	}
	for _, p := range a.pairs {
		if p.state == waiting {
			return true
		}
	}
	return false
}

// sendNextCheck sends one check, triggered ones first (RFC 8445 6.1.4.2),
// then the highest-priority waiting pair, and arms the Ta pacing.
func (a *Agent) sendNextCheck(now time.Time) {
	var p *pair
	for p == nil && len(a.triggered) > 0 {
		if a.triggered[0].needsCheck() {
			p = a.triggered[0]
		}
		a.triggered = slices.Delete(a.triggered, 0, 1)
	}
	for _, q := range a.pairs {
		if p == nil && q.state == waiting {
			p = q
		}
	}
	if p == nil {
		panic("ice: sendNextCheck without a pending check")
	}
	if p.state != succeeded {
		p.state = inProgress
	}
	x := &txn{
		id: a.newTxID(), pair: p, src: p.local.Base, dst: p.remote.Addr, role: a.role,
		useCandidate: p.useCandidate && a.role == ice.Controlling,
		sends:        1, sentAt: now, rto: a.cfg.CheckRTO, nextAt: now.Add(a.cfg.CheckRTO),
	}
	x.payload = a.request(x.id, p, x.useCandidate)
	a.checks = append(a.checks, x)
	a.send(x.src, x.dst, x.payload)
	a.stats.ChecksSent++
	a.nextCheckAt = now.Add(a.cfg.Ta)
}

// request encodes a Binding request for pair p, signed with the peer's
// password.
func (a *Agent) request(id stunmsg.TxID, p *pair, useCandidate bool) []byte {
	return stunmsg.BindingRequest{
		TxID:         id,
		Username:     a.remote.Ufrag + ":" + a.local.Ufrag,
		Priority:     reflexivePriority(p.local),
		Controlling:  a.role == ice.Controlling,
		TieBreaker:   a.tieBreaker,
		UseCandidate: useCandidate,
	}.Marshal(a.remote.Pwd)
}

// retransmitChecks resends every check whose RTO expired, doubling the RTO
// up to CheckRTOMax, and gives up on a check one RTO after its last send.
func (a *Agent) retransmitChecks(now time.Time) {
	var expired []*txn
	for _, x := range a.checks {
		if now.Before(x.nextAt) {
			continue
		}
		if x.sends >= a.cfg.CheckTransmits {
			expired = append(expired, x)
			continue
		}
		x.sends++
		x.rto = min(2*x.rto, a.cfg.CheckRTOMax)
		x.nextAt = x.nextAt.Add(x.rto)
		if !x.nextAt.After(now) {
			// Called late (the caller's loop stalled, or its clock
			// jumped): one retransmission now, the next a full RTO later,
			// rather than a burst to catch up.
			x.nextAt = now.Add(x.rto)
		}
		a.send(x.src, x.dst, x.payload)
		a.stats.Retransmits++
	}
	for _, x := range expired {
		a.endCheck(x)
		a.rememberExpired(now, x)
		if a.nominationUnheard(x) {
			a.nominateAgain(x.pair)
			continue
		}
		a.checkFailed(now, x.pair)
		if p := x.pair; p.state == failedState && a.checksNominatedAgain(now, p) {
			p.state = waiting
			a.trigger(p)
		}
	}
}

func (a *Agent) endCheck(x *txn) {
	i := slices.Index(a.checks, x)
	if i < 0 {
		panic("ice: ending a check that is not in flight")
	}
	a.checks = slices.Delete(a.checks, i, i+1)
}

// checkFailed marks a pair failed unless another check of it is in flight.
// A pair that succeeded before stays usable, unless what failed was its
// nomination: no answer through every retransmission means it does not
// work now, and nominating it again at once would start the same round
// over, with the controlled side (which may have followed) moving back
// and forth each time. It is then failed, and not nominated again for
// RecheckInterval, even if the peer's checks bring it back to succeeded
// sooner. The selected pair (nominated again after a failover) is
// liveness's business, not this.
func (a *Agent) checkFailed(now time.Time, p *pair) {
	nomination := a.nominating == p
	if nomination {
		a.nominating = nil
		p.useCandidate = false
	}
	for _, x := range a.checks {
		if x.pair == p {
			return
		}
	}
	switch {
	case p.state != succeeded && a.recovering:
		// Without a path, keep trying until the recovery's deadline: an
		// outage may outlast one check schedule, and no recheck runs
		// without a selected pair.
		p.state = waiting
		a.trigger(p)
	case p.state != succeeded:
		p.state = failedState
	case nomination && p != a.selected:
		p.state = failedState
		p.nominateAfter = now.Add(a.cfg.RecheckInterval)
		a.stats.NominationsFailed++
	}
}

// needsCheck: a triggered pair still wants a check (it may have succeeded
// meanwhile, which makes the check pointless unless it nominates).
func (p *pair) needsCheck() bool {
	return !p.removed && (p.state != succeeded || p.useCandidate)
}

func (a *Agent) failIfAllChecksFailed() {
	// While recovering the timeout decides: a replacement candidate may
	// still be on its way.
	if a.failed != 0 || a.selected != nil || a.recovering || len(a.pairs) == 0 || len(a.checks) > 0 || a.checkPending() {
		return
	}
	for _, p := range a.pairs {
		if p.state != failedState {
			return
		}
	}
	a.fail(ice.ChecksFailed)
}

// HandleResponse takes a decoded Binding response whose transaction ID
// carries this agent's tag. It accepts it only for a request in flight,
// with valid integrity (the peer's password) and from the address the
// request went to (RFC 8445 7.2.5.2.1); otherwise it reports the drop.
func (a *Agent) HandleResponse(now time.Time, local, remote netip.AddrPort, m *stun.Message) DropReason {
	if a.failed != 0 {
		return DropFailed
	}
	x, pr := a.findTxn(m.TransactionID)
	late := false
	if x == nil && pr == nil {
		if x = a.findExpired(now, m.TransactionID); x == nil {
			return DropUnknownTransaction
		}
		late = true
	}
	if stunmsg.CheckIntegrity(m, a.remote.Pwd) != nil {
		return DropIntegrity
	}
	r, err := stunmsg.ParseResponse(m)
	if err != nil {
		return DropMalformed
	}
	if pr != nil {
		if remote != pr.dst || !stunmsg.SameLocal(local, pr.src) {
			return DropSourceMismatch
		}
		a.probeAnswered(now, pr, r.Success)
		return DropNone
	}
	if remote != x.dst || !stunmsg.SameLocal(local, x.src) {
		return DropSourceMismatch
	}
	if late {
		a.lateAnswer(now, x, r.Success, r.Mapped)
		return DropNone
	}
	a.stats.ChecksAnswered++
	a.answerHeard(now)
	if x.sends == 1 {
		a.rtt.sample(now.Sub(x.sentAt))
	}
	a.endCheck(x)
	switch {
	case r.Success:
		a.checkSucceeded(now, x, r.Mapped)
	case r.Code == stunmsg.CodeRoleConflict:
		a.roleConflictAnswered(x)
	default:
		a.checkFailed(now, x.pair)
		a.failIfAllChecksFailed()
	}
	return DropNone
}

func (a *Agent) findTxn(id stunmsg.TxID) (*txn, *probe) {
	for _, x := range a.checks {
		if x.id == id {
			return x, nil
		}
	}
	for i := range a.probes {
		if a.probes[i].id == id {
			return nil, &a.probes[i]
		}
	}
	return nil, nil
}

func (a *Agent) checkSucceeded(now time.Time, x *txn, mapped netip.AddrPort) {
	p := x.pair
	if p.state != succeeded {
		p.state, p.succeededAt = succeeded, now
	}
	// Ranked as the peer ranks it before deciding anything on it.
	a.learnMapped(p, mapped)
	p.answeredAt = maxTime(p.answeredAt, now)
	switch {
	case p == a.selected:
		a.live.answered(now)
		if x.useCandidate && a.nominating == p {
			// The nomination of a failover's new path is confirmed. Left
			// set, it would keep any higher pair from being nominated, and
			// rechecks could never move the connection back.
			a.nominating, p.useCandidate = nil, false
		}
	case x.useCandidate && a.role == ice.Controlling:
		a.selectPair(now, p)
	case p.nominateOnSuccess && a.role == ice.Controlled && a.followsNomination(now, p):
		a.selectPair(now, p)
	}
	a.maybeNominate(now)
	a.maybeRoam(now)
}

// roleConflictAnswered handles a 487 to our check (RFC 8445 7.2.5.1): take
// the other role, unless an earlier conflict already switched it, and
// check the pair again.
func (a *Agent) roleConflictAnswered(x *txn) {
	if x.role == a.role {
		a.switchRole()
	}
	if x.pair.state != succeeded {
		x.pair.state = waiting
	}
	a.trigger(x.pair)
}

func (a *Agent) switchRole() {
	a.role = otherRole(a.role)
	a.stats.RoleConflicts++
	if a.nominating != nil {
		a.nominating.useCandidate = false
		a.nominating = nil
	}
	a.reprioritise()
	a.events = append(a.events, Event{Kind: EventRoleChanged, Role: a.role})
}

func (a *Agent) trigger(p *pair) {
	if !slices.Contains(a.triggered, p) {
		a.triggered = append(a.triggered, p)
	}
}

// maybeNominate is regular nomination by the controlling agent: once the
// best succeeded pair beats the selected one, and no higher-priority pair
// is still being checked (or NominationWait has passed), check it again
// with USE-CANDIDATE. A pair waiting out a failed nomination
// (nominateAfter) is passed over for the next one down, so a connection
// is not kept off a pair that works, or without any path, for a whole
// RecheckInterval. A wait that is over is cleared here, so that the
// deadline below never counts one that has passed.
func (a *Agent) maybeNominate(now time.Time) {
	for _, p := range a.pairs {
		if !p.nominateAfter.IsZero() && !now.Before(p.nominateAfter) {
			p.nominateAfter = time.Time{}
		}
	}
	best, ready := a.nominationCandidate()
	if best == nil || now.Before(ready) {
		return
	}
	best.useCandidate = true
	a.nominating = best
	a.trigger(best)
}

// nominationCandidate returns the best pair to nominate that is not
// waiting out a failed nomination, and the moment NominationWait allows
// (zero: at once).
func (a *Agent) nominationCandidate() (*pair, time.Time) {
	var found *pair
	var ready time.Time
	a.eachNominationCandidate(func(p *pair, wait time.Time) bool {
		if !p.nominateAfter.IsZero() {
			return true
		}
		found, ready = p, wait
		return false
	})
	return found, ready
}

// nominateDeadline is when maybeNominate next has something to do: the
// candidate's NominationWait ending, or a pair above it ending its wait
// after a failed nomination, whichever comes first.
func (a *Agent) nominateDeadline() (time.Time, bool) {
	var at time.Time
	ok := false
	a.eachNominationCandidate(func(p *pair, wait time.Time) bool {
		if d := maxTime(wait, p.nominateAfter); !ok || d.Before(at) {
			at, ok = d, true
		}
		return !p.nominateAfter.IsZero()
	})
	return at, ok && !at.IsZero()
}

// eachNominationCandidate visits, best first, the succeeded pairs that
// outrank the selected one, with the moment NominationWait allows each,
// until visit returns false.
func (a *Agent) eachNominationCandidate(visit func(p *pair, wait time.Time) bool) {
	if a.role != ice.Controlling || a.nominating != nil || a.failed != 0 {
		return
	}
	higherPending := false
	for _, p := range a.pairs { // highest priority first
		switch p.state {
		case waiting, inProgress:
			higherPending = true
		case succeeded:
			if p == a.selected || (a.selected != nil && p.prio <= a.selected.prio) {
				return
			}
			var wait time.Time
			if higherPending {
				wait = p.succeededAt.Add(a.cfg.NominationWait)
			}
			if !visit(p, wait) {
				return
			}
		}
	}
}

// followsNomination reports whether the controlled agent moves to the
// nominated pair p. It uses the highest-priority nominated pair (RFC 8445
// 8.1.1): a USE-CANDIDATE check on a lower pair than the selected one is
// stale (a probe of the peer's previous path, delayed on the longer route,
// or a retransmission) and moving back would reorder data in flight. The
// exception is a selected pair that has stopped answering for
// ProbeLossAfter: the controlling peer failed over to its backup and
// nominated it, and we follow.
func (a *Agent) followsNomination(now time.Time, p *pair) bool {
	s := a.selected
	if s == nil || p.prio > s.prio || a.selectedWithdrawn() {
		return true
	}
	u := a.live.unansweredSince
	return !u.IsZero() && !now.Before(u.Add(a.cfg.ProbeLossAfter))
}

// selectPair makes p the path in use and reports it.
func (a *Agent) selectPair(now time.Time, p *pair) {
	if a.selected == p {
		return
	}
	// After a recovery the first pair selected again is a change of path,
	// not a new connection: the owner keeps its state.
	first := !a.live.on
	a.selected = p
	a.recheckAt = now.Add(a.cfg.RecheckInterval)
	if a.nominating == p {
		a.nominating = nil
	}
	p.useCandidate, p.nominateOnSuccess = false, false
	kind := EventPathChanged
	if first {
		kind = EventConnected
		a.live.start(now, &a.cfg)
		a.backupProbeAt = now
	} else if a.recovering {
		a.endRecovery(now)
	} else {
		a.live.answered(now)
	}
	a.events = append(a.events, Event{Kind: kind, Path: p.path()})
}

// otherRole is the role a conflict flips r to.
func otherRole(r ice.Role) ice.Role { return 1 - r }
