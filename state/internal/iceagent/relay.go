package iceagent

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file holds what the agent does for relayed candidates: losing a
// local candidate (a TURN allocation withdrawn), failing the pairs a relay
// cannot serve, and checking better pairs again while a worse one carries
// the connection, so that a relayed connection moves to a direct path once
// one opens.

// Remotes returns the remote candidates, signalled and peer reflexive, in
// the order they were learned. The slice is a copy.
func (a *Agent) Remotes() []stunmsg.Candidate { return slices.Clone(a.remotes) }

// HasLocal reports whether the agent has a local candidate with this base.
func (a *Agent) HasLocal(base netip.AddrPort) bool {
	for _, l := range a.locals {
		if l.Base == base {
			return true
		}
	}
	return false
}

// RemoveLocalCandidate forgets the local candidate with this base and every
// pair on it: a relay's allocation is gone, so nothing can be sent or
// received through it. When the selected pair was one of them the agent
// moves to the best pair that has succeeded (PathChanged; the controlling
// agent also nominates it so the peer follows), or, with none left,
// recovers (recovery.go): it checks the pairs it has and gets, and fails
// with reason only when the lost path's probe timeout passes. It returns
// false when there was no such candidate.
func (a *Agent) RemoveLocalCandidate(now time.Time, base netip.AddrPort, reason ice.FailReason) bool {
	i := slices.IndexFunc(a.locals, func(l stunmsg.Candidate) bool { return l.Base == base })
	if i < 0 {
		return false
	}
	a.locals = slices.Delete(a.locals, i, i+1)
	lostSelected := a.selected != nil && a.selected.local.Base == base
	a.removePairs(func(p *pair) bool { return p.local.Base == base })
	a.afterRemoval(now, lostSelected, reason)
	return true
}

// afterRemoval follows the removal of pairs: with the selected pair gone
// the agent moves to the best pair that has succeeded (PathChanged; the
// controlling agent also nominates it so the peer follows), or, with none
// left, goes back to checking for a new one until the lost path's probe
// timeout (recovery.go), failing then with reason.
func (a *Agent) afterRemoval(now time.Time, lostSelected bool, reason ice.FailReason) {
	if a.failed != 0 {
		return
	}
	if !lostSelected {
		a.failIfAllChecksFailed()
		return
	}
	lost := a.selected.path()
	a.selected = nil
	// A pair to move to should have answered since the lost path went
	// silent: a server restart that took our allocation took the peer's
	// on the same server too, and a pair through it that answered before
	// the silence would be a move onto another dead path. A working backup
	// has: the first lost probe of the selected pair probes it at once
	// (countLostProbes). Pairs that only answered before are checked again
	// instead, in recovery, and so are those that failed before it: what
	// failed then may work now.
	silentSince := a.live.unansweredSince
	best := a.bestSucceededSince(silentSince)
	if best == nil && (a.noRecovery || a.role == ice.Controlled) {
		// Without recovery the alternative is failing at once, and the
		// controlled agent cannot nominate: recovering, it would wait
		// without a path for the peer to move, which may come only after
		// the peer's SwitchAfter, past the recovery's deadline (the
		// simulator found such false failures behind symmetric NATs). Any
		// pair that succeeded is the better bet; if it is dead too, what is
		// sent on it meanwhile is lost, as on any dead path.
		best = a.bestSucceededSince(time.Time{})
	}
	if best == nil {
		for _, p := range a.pairs {
			if p.state == succeeded || p.state == failedState {
				p.state = waiting
				a.trigger(p)
			}
		}
		a.loseSelected(lost, reason)
		return
	}
	a.moveTo(now, best)
}

// moveTo makes the succeeded pair p the path after the selected one went
// away (PathChanged); the controlling agent also nominates it so the peer
// follows.
func (a *Agent) moveTo(now time.Time, p *pair) {
	a.selected = p
	a.recheckAt = now.Add(a.cfg.RecheckInterval)
	// The timeout keeps running from the last answer on either pair (the
	// backup is probed, so a working one answered recently): losing a
	// relay after every path was cut must not restart the detection.
	a.live.heardAt, a.live.unansweredSince = maxTime(a.live.heardAt, p.answeredAt), time.Time{}
	if a.role == ice.Controlling {
		p.useCandidate = true
		a.nominating = p
		a.trigger(p)
	}
	a.events = append(a.events, Event{Kind: EventPathChanged, Path: p.path()})
}

// FailPairs marks failed every pair from the local base to the peer IP,
// except the selected one (its probes decide about it): the relay refused
// or never confirmed a permission for that peer, so checks through it
// cannot succeed.
func (a *Agent) FailPairs(now time.Time, base netip.AddrPort, peer netip.Addr) {
	peer = peer.Unmap()
	for _, p := range a.pairs {
		if p.local.Base != base || p.remote.Addr.Addr() != peer || p == a.selected {
			continue
		}
		p.state = failedState
		if a.nominating == p {
			a.nominating, p.useCandidate = nil, false
		}
	}
	a.triggered = slices.DeleteFunc(a.triggered, func(p *pair) bool { return p.state == failedState })
	a.checks = slices.DeleteFunc(a.checks, func(x *txn) bool { return x.pair.state == failedState })
	a.failIfAllChecksFailed()
}

// removePairs drops the pairs del selects, with their checks in flight.
func (a *Agent) removePairs(del func(*pair) bool) {
	a.pairs = slices.DeleteFunc(a.pairs, func(p *pair) bool {
		if !del(p) {
			return false
		}
		p.removed = true
		if a.nominating == p {
			a.nominating = nil
		}
		return true
	})
	a.triggered = slices.DeleteFunc(a.triggered, func(p *pair) bool { return p.removed })
	a.checks = slices.DeleteFunc(a.checks, func(x *txn) bool { return x.pair.removed })
	a.probes = slices.DeleteFunc(a.probes, func(x probe) bool { return x.pair.removed })
}

// bestSucceededSince is the best pair that succeeded and answered at or
// after since (any answer, with since zero).
func (a *Agent) bestSucceededSince(since time.Time) *pair {
	for _, p := range a.pairs { // highest priority first
		if p.state == succeeded && !p.answeredAt.Before(since) {
			return p
		}
	}
	return nil
}

// recheckWanted: a pair that failed ranks above the selected one, so a
// better path may open later (a relayed connection whose direct path was
// blocked at first).
func (a *Agent) recheckWanted() bool {
	if a.selected == nil || a.failed != 0 || a.recheckAt.IsZero() {
		return false
	}
	for _, p := range a.pairs { // highest priority first
		if p == a.selected {
			return false
		}
		if p.state == failedState {
			return true
		}
	}
	return false
}

// recheckDue puts the failed pairs above the selected one back to waiting,
// so the paced checks try them again.
func (a *Agent) recheckDue(now time.Time) {
	if !a.recheckWanted() || now.Before(a.recheckAt) {
		return
	}
	a.recheckAt = now.Add(a.cfg.RecheckInterval)
	for _, p := range a.pairs {
		if p == a.selected {
			break
		}
		if p.state == failedState {
			p.state = waiting
		}
	}
	a.nextCheckAt = maxTime(a.nextCheckAt, now)
	a.stats.Rechecks++
}
