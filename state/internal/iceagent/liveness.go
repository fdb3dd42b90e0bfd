package iceagent

import (
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

// liveness keeps the selected path honest: a probe every ProbeInterval (or
// IdleProbeInterval once the application has been quiet for IdleAfter), and
// failure when no authenticated answer came for ProbeTimeout (or
// IdleProbeTimeout). Only answers to our own requests count: a request from
// the peer proves the path toward us, not the one toward the peer.
//
// On idle timing a probe that goes unanswered for ProbeLossAfter is followed
// up by another, and then one every ProbeInterval, until one is answered:
// two lost idle probes an IdleProbeInterval apart would otherwise fail a
// working lossy path within IdleProbeTimeout. Once an answer comes the next
// probe is again IdleProbeInterval after the last one. A dead path still
// fails exactly IdleProbeTimeout after its last answer.
type liveness struct {
	on   bool
	idle bool
	// lastApp is the last application datagram either way.
	lastApp time.Time
	// heardAt is the later of the last authenticated answer on the selected
	// path and the moment active timing last resumed.
	heardAt time.Time
	// nextProbe is the next probe on active timing; idle timing derives
	// its next probe from lastProbeAt (nextIdleProbe).
	nextProbe   time.Time
	lastProbeAt time.Time
	// unansweredSince is when the oldest probe sent since the last answer
	// on the selected path left; zero when the last probe was answered.
	unansweredSince time.Time
}

func (l *liveness) start(now time.Time, cfg *ice.Config) {
	l.on, l.idle = true, false
	l.lastApp, l.heardAt, l.lastProbeAt = now, now, now
	// The first probe goes one interval after selection, not at once: the
	// check that selected the path has just been answered.
	l.nextProbe = now.Add(cfg.ProbeInterval)
}

func (l *liveness) answered(now time.Time) {
	l.heardAt = maxTime(l.heardAt, now)
	l.unansweredSince = time.Time{}
}

// next is when the next probe is due.
func (l *liveness) next(cfg *ice.Config) time.Time {
	if !l.idle {
		return l.nextProbe
	}
	if l.unansweredSince.IsZero() {
		return l.lastProbeAt.Add(cfg.IdleProbeInterval)
	}
	if l.lastProbeAt.Equal(l.unansweredSince) {
		// The first follow-up: the probe just counted as lost.
		return l.lastProbeAt.Add(cfg.ProbeLossAfter)
	}
	return l.lastProbeAt.Add(cfg.ProbeInterval)
}

func (l *liveness) timeout(cfg *ice.Config) time.Duration {
	if l.idle {
		return cfg.IdleProbeTimeout
	}
	return cfg.ProbeTimeout
}

// probeTimeoutDeadline is when the selected path is lost unless an answer
// comes; while recovering there is no selected pair to probe, and
// recoverDeadline holds the timeout.
func (a *Agent) probeTimeoutDeadline() (time.Time, bool) {
	l := &a.live
	return l.heardAt.Add(l.timeout(&a.cfg)), l.on && !a.recovering
}

// probeDeadline is when the next probe of the selected path leaves.
func (a *Agent) probeDeadline() (time.Time, bool) {
	l := &a.live
	return l.next(&a.cfg), l.on && !a.recovering
}

// idleDeadline is when the selected path moves to idle timing.
func (a *Agent) idleDeadline() (time.Time, bool) {
	l := &a.live
	return l.lastApp.Add(a.cfg.IdleAfter), l.on && !l.idle && !a.recovering
}

// enterIdle moves to idle timing once the application has been quiet for
// IdleAfter, unless the active timeout has already expired (handleLiveness
// then fails the path, as it would have on active timing).
func (a *Agent) enterIdle(now time.Time) {
	l := &a.live
	// While recovering the timing stays as it was when the path was lost.
	if !l.on || l.idle || a.failed != 0 || a.recovering || now.Before(l.lastApp.Add(a.cfg.IdleAfter)) ||
		!now.Before(l.heardAt.Add(a.cfg.ProbeTimeout)) {
		return
	}
	l.idle = true
}

// handleLiveness runs the probe timers. The timeout is checked first: at
// the exact instant it expires the path is lost, whatever else is due.
func (a *Agent) handleLiveness(now time.Time) {
	l := &a.live
	if !l.on || a.failed != 0 || a.recovering {
		return
	}
	if !now.Before(l.heardAt.Add(l.timeout(&a.cfg))) {
		a.fail(ice.ProbeTimeout)
		return
	}
	if !l.idle && !now.Before(l.lastApp.Add(a.cfg.IdleAfter)) {
		// Going idle: the next probe is an idle interval after the last
		// one (next), so the NAT mapping sees traffic at least every
		// IdleProbeInterval.
		l.idle = true
	}
	if now.Before(l.next(&a.cfg)) {
		return
	}
	a.sendProbe(now, a.selected)
	if l.unansweredSince.IsZero() {
		l.unansweredSince = now
	}
	l.lastProbeAt = now
	if !l.idle {
		l.nextProbe = l.nextProbe.Add(a.cfg.ProbeInterval)
		if !l.nextProbe.After(now) {
			l.nextProbe = now.Add(a.cfg.ProbeInterval)
		}
	}
}

func (a *Agent) sendProbe(now time.Time, p *pair) {
	id := a.newTxID()
	// Only probes of the selected pair repeat its nomination: USE-CANDIDATE
	// on a backup probe would move the controlled peer onto the backup.
	// Nor do they while a higher pair's nomination is in flight: the peer
	// may already have followed that one, and seeing the old pair
	// nominated again while its new pair waits for answers, it would move
	// back, then forward with the nomination's next retransmission.
	renominate := a.role == ice.Controlling && p == a.selected && (a.nominating == nil || a.nominating == p)
	payload := a.request(id, p, renominate)
	if len(a.probes) >= a.cfg.ProbeMemory {
		if old := a.probes[0]; !old.answered && !old.lost {
			a.stats.ProbesLost++ // forgotten before its loss deadline
		}
		a.probes = append(a.probes[:0], a.probes[1:]...)
	}
	a.probes = append(a.probes, probe{id: id, pair: p, src: p.local.Base, dst: p.remote.Addr, sentAt: now})
	a.send(p.local.Base, p.remote.Addr, payload)
	a.stats.ProbesSent++
}

// NotifyAppTraffic records application data sent or received on the
// connection at now. It returns true when the agent's next deadline moved
// earlier (leaving idle timing sends a probe at once), so that an owner
// keeping a timer index knows to update it; a deadline that only moved later
// may stay indexed, HandleTimeout then finds nothing due.
func (a *Agent) NotifyAppTraffic(now time.Time) bool {
	l := &a.live
	if !l.on || a.failed != 0 {
		return false
	}
	l.lastApp = maxTime(l.lastApp, now)
	if !l.idle || a.recovering {
		// Recovering: traffic must not restart the lost path's timeout.
		return false
	}
	// Back to active timing. The last answer was heard under idle rules,
	// possibly an IdleProbeInterval ago; the active timeout counts from
	// now, and a probe goes out at once to confirm the path quickly.
	l.idle = false
	l.heardAt = maxTime(l.heardAt, now)
	l.nextProbe = now
	return true
}

// probeAnswered takes an authenticated answer to a probe from the address
// it went to. Duplicates of an answer count once; any success on the
// selected pair proves the path, even a late one.
func (a *Agent) probeAnswered(now time.Time, pr *probe, success bool) {
	a.answerHeard(now)
	if !pr.answered {
		pr.answered = true
		if pr.lost {
			a.stats.ProbesLate++
		} else {
			a.stats.ProbesAnswered++
			a.rtt.sample(now.Sub(pr.sentAt))
		}
	}
	if success {
		pr.pair.answeredAt = maxTime(pr.pair.answeredAt, now)
	}
	if success && pr.pair == a.selected {
		a.live.answered(now)
	}
}

// SilentSince reports when the oldest probe of the selected pair still
// waiting for its answer left: the path has been silent since then as far
// as the agent knows. ok is false when the last probe was answered, or
// there is no selected pair. An owner that can check what lies under the
// path (a TURN allocation, see state/node) uses it to look once a probe
// counts as lost (Config.ProbeLossAfter after since) instead of waiting
// for ProbeTimeout.
func (a *Agent) SilentSince() (since time.Time, ok bool) {
	l := &a.live
	if a.selected == nil || a.failed != 0 || !l.on || l.unansweredSince.IsZero() {
		return time.Time{}, false
	}
	return l.unansweredSince, true
}

// probeLostDeadline is when the oldest probe still waiting for its answer
// counts as lost.
func (a *Agent) probeLostDeadline() (time.Time, bool) {
	for i := range a.probes { // oldest first
		if p := &a.probes[i]; !p.answered && !p.lost {
			return p.sentAt.Add(a.cfg.ProbeLossAfter), true
		}
	}
	return time.Time{}, false
}

// countLostProbes marks lost every probe unanswered for ProbeLossAfter.
func (a *Agent) countLostProbes(now time.Time) {
	for i := range a.probes {
		p := &a.probes[i]
		if !p.answered && !p.lost && !now.Before(p.sentAt.Add(a.cfg.ProbeLossAfter)) {
			p.lost = true
			a.stats.ProbesLost++
			if p.pair == a.selected {
				// Probe the backup now rather than at its next turn: if the
				// selected path is going away, the backup's answer since
				// the silence is what lets the agent move to it at once
				// (afterRemoval), and a dead backup shows as such.
				a.backupProbeAt = time.Time{}
			}
		}
	}
}
