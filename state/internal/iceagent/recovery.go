package iceagent

import (
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

// This file holds recovery: what the agent does when the selected pair
// loses one of its candidates (our relay's allocation was withdrawn or
// replaced, or the peer withdrew its relay candidate) and no other pair has
// succeeded. A TURN re-allocation does exactly that to a connection that
// only works through a relay: the old relayed address is gone, and a new
// one, with a new working path, arrives within a round trip or two. Failing
// at once would tear down a connection that is about to work again.
//
// So the agent goes back to checking instead: it has no selected pair
// (EventPathLost, Selected reports none), sends no probes, and checks
// whatever pairs it has or gets — the new relay candidate paired with
// every remote one, the peer's new candidate once signalled, a
// peer-reflexive one learned from the peer's checks. The controlling agent
// nominates the first pair that succeeds, the controlled one follows the
// nomination, and the new pair is reported as EventPathChanged, not
// EventConnected: to the owner it is the same connection on another path.
//
// The probe timeout keeps running from the last answer on the lost path,
// under the timing (active or idle) it had: a connection whose every path
// was cut is still reported no later than ProbeTimeout after its last
// answer, whatever it loses in between. It then fails with the reason of
// the loss (RelayLost), which says more than ProbeTimeout would: the path
// went away under it, and nothing replaced it in time. Checks that all
// fail do not end recovery early (ChecksFailed): a replacement candidate
// may still be on its way, and a pair whose checks failed is checked
// again, since an outage may outlast one check schedule.
//
// The controlling agent does not move to a pair that succeeded but has
// not answered since the lost path fell silent (afterRemoval): a
// restarted TURN server takes every allocation on it, the peer's too, and
// such a pair is most likely just as dead. It goes back to waiting and is
// checked like the rest. A working backup has answered: the selected
// pair's first lost probe sends one to the backup at once. The controlled
// agent, which cannot nominate, still moves to such a pair rather than
// wait without a path for its peer to move.
//
// The owner turns recovery off (SetRecovery) when it knows nothing will
// come back from our side; a loss then fails the agent at once, as before
// recovery existed.

// Recovering reports whether the agent lost its selected pair and is
// checking for a new one.
func (a *Agent) Recovering() bool { return a.recovering }

// LostPathHeardAt reports, while the agent recovers, when the lost path
// last answered: as far as the agent knows it has been silent since. An
// owner that verifies what lay under the lost path (state/node: its TURN
// allocation) uses it as SilentSince while a path is selected. ok is false
// when the agent is not recovering.
func (a *Agent) LostPathHeardAt() (heard time.Time, ok bool) {
	if !a.recovering || a.failed != 0 {
		return time.Time{}, false
	}
	return a.live.heardAt, true
}

// SetRecovery turns recovery on (the default) or off. Off means the owner
// has nothing to replace a lost local candidate with: its relay is gone
// for good and no other took over. From then on, a selected pair that
// loses its candidate with no succeeded pair to move to fails the agent at
// once with the reason of the loss. An agent recovering at the call moves
// to the best pair that ever succeeded, however long ago it answered
// (failing is the alternative), or fails now with reason. It reports
// whether the agent failed.
func (a *Agent) SetRecovery(now time.Time, on bool, reason ice.FailReason) bool {
	a.noRecovery = !on
	if on || !a.recovering || a.failed != 0 {
		return false
	}
	if p := a.bestSucceededSince(time.Time{}); p != nil {
		a.recovering = false
		a.moveTo(now, p)
		return false
	}
	a.recovering = false
	a.fail(reason)
	return true
}

// loseSelected follows the loss of the selected pair when no succeeded
// pair is left: recover, or fail with reason when recovery is off. The
// caller has removed the pair already; lost is its path.
func (a *Agent) loseSelected(lost ice.Path, reason ice.FailReason) {
	a.selected = nil
	if a.noRecovery {
		a.fail(reason)
		return
	}
	a.recovering, a.recoverReason = true, reason
	a.live.unansweredSince = time.Time{}
	a.stats.Recoveries++
	a.events = append(a.events, Event{Kind: EventPathLost, Path: lost, Reason: reason})
}

// recoverDeadline is the probe timeout of the lost path: its last answer
// plus the timeout of the timing it was on.
func (a *Agent) recoverDeadline() (time.Time, bool) {
	if !a.recovering || a.failed != 0 {
		return time.Time{}, false
	}
	return a.live.heardAt.Add(a.live.timeout(&a.cfg)), true
}

// recoverTimeout fails a recovery that found no new pair within the probe
// timeout of the lost path.
func (a *Agent) recoverTimeout(now time.Time) {
	d, ok := a.recoverDeadline()
	if !ok || now.Before(d) {
		return
	}
	a.recovering = false
	a.fail(a.recoverReason)
}

// endRecovery: a new pair was selected. Liveness starts over on it as on
// a first selection (active timing, the first probe one interval later):
// its nomination has just been answered.
func (a *Agent) endRecovery(now time.Time) {
	a.recovering = false
	a.live.start(now, &a.cfg)
	a.backupProbeAt = now
}
