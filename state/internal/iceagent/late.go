package iceagent

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file holds what the agent does when a path's round trip outgrows
// the check schedule (Config.CheckTransmits sends from Config.CheckRTO,
// capped at Config.CheckRTOMax). That is not
// exotic: an answer queued behind a saturating load in a kernel send
// buffer that knows nothing of peerlink's Control lane waits as long as
// the buffer takes to drain, many seconds on a slow uplink. The
// controlling side usually validated the pair before its load started and
// nominated it; the controlled side's checks, answered through that
// buffer, then all gave up before their answers came. It dropped each
// late answer, failed the pair, and never connected, while its peer sent
// on the pair and probed it.
//
// Two rules fix it, both bounded:
//
//   - A check that gave up is remembered for ProbeTimeout (the longest a
//     probe on the selected path may wait for its answer), up to
//     lateChecksKept of them. A success answer to it, authenticated and
//     from where the check went, proves the pair as a timely one would
//     (RFC 8445 7.2.5.3): the pair succeeds, and a nomination waiting on
//     it (the controlled side's nominateOnSuccess, RFC 8445 7.3.1.5)
//     takes effect. A late answer to a nomination of ours selects
//     nothing when that nomination failed (checkFailed: it waits out its
//     RecheckInterval, and selecting now would race whatever was
//     nominated since); it selects the pair when the nomination is still
//     in flight, tried again because the peer had answered nothing at
//     all (nominate_unheard.go).
//   - On the controlled side, a pair the peer nominated is checked again
//     when its check gives up, instead of failing, while the peer's
//     requests on it keep coming (within ProbeTimeout of the last). The
//     peer's nomination says the pair carried our answer to it, and its
//     probes say it still uses the pair; failing the pair (or the whole
//     agent, when it was the last) would throw away the one path the
//     peer is on. Once the peer falls silent the pair fails as before.

// lateChecksKept bounds the checks remembered after giving up: a check
// list's worth on a typical connection (a few local candidates times a few
// remote ones); older ones are forgotten first.
const lateChecksKept = 32

// expiredCheck is a check that gave up, still waiting for a late answer
// until forgetAt.
type expiredCheck struct {
	x        *txn
	forgetAt time.Time
}

// rememberExpired keeps x, which just gave up at now, for a late answer.
func (a *Agent) rememberExpired(now time.Time, x *txn) {
	a.forgetExpired(now)
	if len(a.expired) == lateChecksKept {
		a.expired = append(a.expired[:0], a.expired[1:]...)
	}
	a.expired = append(a.expired, expiredCheck{x: x, forgetAt: now.Add(a.cfg.ProbeTimeout)})
}

// forgetExpired drops the remembered checks whose time is over, and those
// of removed pairs.
func (a *Agent) forgetExpired(now time.Time) {
	keep := a.expired[:0]
	for _, e := range a.expired {
		if now.Before(e.forgetAt) && !e.x.pair.removed {
			keep = append(keep, e)
		}
	}
	clear(a.expired[len(keep):])
	a.expired = keep
}

// findExpired returns the remembered check with transaction id, or nil.
func (a *Agent) findExpired(now time.Time, id stunmsg.TxID) *txn {
	a.forgetExpired(now)
	for _, e := range a.expired {
		if e.x.id == id {
			return e.x
		}
	}
	return nil
}

// lateAnswer takes an authenticated answer, from where the check went, to
// a check that had given up. The check is forgotten (its retransmissions'
// answers count once); a success proves the pair.
func (a *Agent) lateAnswer(now time.Time, x *txn, success bool, mapped netip.AddrPort) {
	for i, e := range a.expired {
		if e.x == x {
			a.expired = append(a.expired[:i], a.expired[i+1:]...)
			break
		}
	}
	a.stats.ChecksLate++
	a.answerHeard(now)
	p := x.pair
	if !success || p.removed {
		return
	}
	if p.state != succeeded {
		p.state, p.succeededAt = succeeded, now
	}
	a.learnMapped(p, mapped)
	p.answeredAt = maxTime(p.answeredAt, now)
	switch {
	case p == a.selected:
		a.live.answered(now)
	case p.nominateOnSuccess && a.role == ice.Controlled && a.followsNomination(now, p):
		a.selectPair(now, p)
	case x.useCandidate && a.role == ice.Controlling && a.nominating == p:
		// Our nomination, tried again because the peer had answered
		// nothing (nominate_unheard.go), and still the one in flight:
		// the peer got it, and nothing was nominated since.
		a.selectPair(now, p)
	}
	a.maybeNominate(now)
}

// checksNominatedAgain reports, for a pair whose check just gave up,
// whether the controlled side checks it again rather than failing it: the
// peer nominated it and its last request on it is less than ProbeTimeout
// old.
func (a *Agent) checksNominatedAgain(now time.Time, p *pair) bool {
	return a.role == ice.Controlled && p.nominateOnSuccess && p.state != succeeded &&
		!p.peerHeardAt.IsZero() && now.Before(p.peerHeardAt.Add(a.cfg.ProbeTimeout))
}
