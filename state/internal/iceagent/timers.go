package iceagent

import (
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/timer"
)

// timerEntry is one row of the agent's timer table: when the timer is next
// due (false while it is not running) and what it does when it is.
type timerEntry struct {
	reason   string
	deadline func(a *Agent) (time.Time, bool)
	fire     func(a *Agent, now time.Time)
}

// timers is the agent's timer table. PollTimeout returns the earliest
// running entry and its reason; HandleTimeout runs every due entry, in
// this order, reading each deadline just before its turn, so that what an
// earlier entry made due runs in the same call. The order is behaviour:
// the comments say why a row sits where it does.
var timers = [...]timerEntry{
	// First: an agent that never got a pair fails, whatever else is due.
	{"ice: candidate-timeout", (*Agent).candidateDeadline, (*Agent).candidateTimeout},
	{"ice: check-retransmit", (*Agent).retransmitDeadline, (*Agent).retransmitChecks},
	{"ice: nominate", (*Agent).nominateDeadline, (*Agent).maybeNominate},
	// Before the paced send: a recheck makes a check due at once.
	{"ice: recheck", (*Agent).recheckDeadline, (*Agent).recheckDue},
	{"ice: probe-lost", (*Agent).probeLostDeadline, (*Agent).countLostProbes},
	// Before the switch: idle timing lengthens the timeout a backup's
	// answer must fall within, which may make the switch due at once.
	{"ice: idle", (*Agent).idleDeadline, (*Agent).enterIdle},
	// Before the liveness timeout, so that a working backup replaces a
	// silent path instead of the connection failing, and before the paced
	// send, since the switch triggers a nominating check.
	{"ice: switch", (*Agent).switchDeadline, (*Agent).maybeSwitch},
	{"ice: roam", (*Agent).roamDeadline, (*Agent).maybeRoam},
	{"ice: check-pacing", (*Agent).pacingDeadline, (*Agent).sendNextCheck},
	// After the paced send and the answers it may bring: a recovery whose
	// deadline passes fails here, at the lost path's probe timeout.
	{"ice: recovery-timeout", (*Agent).recoverDeadline, (*Agent).recoverTimeout},
	// The liveness timeout is checked before the probe (handleLiveness
	// does both): at the instant it expires the path is lost.
	{"ice: probe-timeout", (*Agent).probeTimeoutDeadline, (*Agent).handleLiveness},
	{"ice: probe", (*Agent).probeDeadline, (*Agent).handleLiveness},
	{"ice: backup-probe", (*Agent).backupProbeDeadline, (*Agent).probeBackup},
}

// PollTimeout returns when HandleTimeout must next be called and why: the
// earliest running timer of the table. It changes after every input and
// command. A deadline may lie in the past (work became due while other
// input was handled); call HandleTimeout then.
func (a *Agent) PollTimeout() (time.Time, string, bool) {
	var next timer.Next
	if a.failed != 0 {
		return next.Poll()
	}
	for i := range timers {
		at, ok := timers[i].deadline(a)
		next.OfferIf(at, timers[i].reason, ok)
	}
	return next.Poll()
}

// HandleTimeout runs every timer that is due at now, in table order.
func (a *Agent) HandleTimeout(now time.Time) {
	for i := range timers {
		if a.failed != 0 {
			return
		}
		if at, ok := timers[i].deadline(a); ok && !now.Before(at) {
			timers[i].fire(a, now)
		}
	}
	// Not a timer: what the timers did may have left every pair failed.
	a.failIfAllChecksFailed()
}

func (a *Agent) candidateDeadline() (time.Time, bool) {
	return a.createdAt.Add(a.cfg.CandidateTimeout), !a.hadPair
}

func (a *Agent) candidateTimeout(time.Time) { a.fail(ice.CandidateTimeout) }

// retransmitDeadline is the earliest retransmission of a check in flight.
func (a *Agent) retransmitDeadline() (time.Time, bool) {
	var next timer.Next
	for _, x := range a.checks {
		next.Offer(x.nextAt, "")
	}
	d, ok := next.Deadline()
	return d.At, ok
}

func (a *Agent) pacingDeadline() (time.Time, bool) { return a.nextCheckAt, a.checkPending() }

func (a *Agent) recheckDeadline() (time.Time, bool) { return a.recheckAt, a.recheckWanted() }
