package iceagent

import (
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

// This file holds failover: while a path is selected, the best other pair
// whose checks succeeded (the backup, typically a relayed pair behind a
// direct one) is probed at a slow rate, so that it is known to work. When
// the selected pair's probes have gone unanswered for SwitchAfter and the
// backup answered within the current probe timeout, the agent moves to
// the backup (PathChanged) instead of waiting for ProbeTimeout to fail
// the connection. The controlling agent also nominates the backup so the
// peer follows; the silent pair is marked failed, so that rechecks
// (Config.RecheckInterval) move back to it once it answers again.

// backup is the highest-priority succeeded pair other than the selected
// one.
func (a *Agent) backup() *pair {
	if a.selected == nil {
		return nil
	}
	for _, p := range a.pairs { // highest priority first
		if p.state == succeeded && p != a.selected {
			return p
		}
	}
	return nil
}

func (a *Agent) backupInterval() time.Duration {
	if a.live.idle {
		return max(a.cfg.BackupProbeInterval, a.cfg.IdleProbeInterval)
	}
	return a.cfg.BackupProbeInterval
}

func (a *Agent) backupProbeDeadline() (time.Time, bool) {
	if a.failed != 0 || !a.live.on || a.backup() == nil {
		return time.Time{}, false
	}
	return a.backupProbeAt.Add(a.backupInterval()), true
}

// probeBackup keeps the backup's NAT mappings open and its answers fresh.
func (a *Agent) probeBackup(now time.Time) {
	d, ok := a.backupProbeDeadline()
	if !ok || now.Before(d) {
		return
	}
	a.sendProbe(now, a.backup())
	a.backupProbeAt = now
}

// switchDeadline is when the selected pair will have been silent for
// SwitchAfter. It is armed only while the backup is alive then: it
// answered within the current probe timeout before that moment, the same
// standard that keeps the selected path. A backup answer re-arms it.
func (a *Agent) switchDeadline() (time.Time, bool) {
	l := &a.live
	if a.failed != 0 || !l.on || l.unansweredSince.IsZero() {
		return time.Time{}, false
	}
	b := a.backup()
	if b == nil || b.answeredAt.IsZero() {
		return time.Time{}, false
	}
	d := l.unansweredSince.Add(a.cfg.SwitchAfter)
	return d, d.Before(b.answeredAt.Add(l.timeout(&a.cfg)))
}

// maybeSwitch moves to the backup once the selected pair has been silent
// for SwitchAfter (the deadline is armed only while the backup is alive).
func (a *Agent) maybeSwitch(now time.Time) {
	d, ok := a.switchDeadline()
	if !ok || now.Before(d) {
		return
	}
	b := a.backup()
	old := a.selected
	old.state = failedState
	a.selected = b
	a.recheckAt = now.Add(a.cfg.RecheckInterval)
	a.stats.Switches++
	l := &a.live
	// The timeout runs from the last answer on either pair, under the same
	// timing (active or idle) as before: the backup answered within it, so
	// the connection does not fail at once, and a cut of every path is
	// still reported no later than it would have been without a backup.
	// On active timing the new path is probed at once; on idle timing the
	// controlling side's nomination check confirms it.
	l.heardAt, l.unansweredSince = maxTime(l.heardAt, b.answeredAt), time.Time{}
	if !l.idle {
		l.nextProbe = now
	}
	if a.role == ice.Controlling {
		b.useCandidate = true
		a.nominating = b
		a.trigger(b)
	}
	a.events = append(a.events, Event{Kind: EventPathChanged, Path: b.path()})
}
