package iceagent

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file holds roaming: the peer's end of the selected path changed
// under a working connection. Its NAT rebound (a new external port after a
// sleep, a flushed conntrack table), or it moved to another network, or
// its application told ours, through signalling, that the remote candidate
// of the selected pair is gone. In each case the peer's requests (its
// probes, and its checks of what it has now) arrive at the same local
// candidate from a new address, which the agent learns as a peer-reflexive
// candidate, pairs and checks (requests.go). What it must not do is keep
// sending to the old address until ProbeTimeout fails the connection, or
// SwitchAfter moves it to a backup on another local candidate.
//
// The agent moves to the new pair (PathChanged; the controlling agent
// nominates it so the peer follows, as after a failover) on either of two
// pieces of evidence:
//
//   - Unsignalled: a pair on the same local candidate to another address
//     has succeeded, answered after the selected pair last did, and the
//     peer's requests there began after its last one on the selected
//     pair; and a probe of the selected pair went unanswered for a few
//     round trips (roamWait; one is sent at once when none is out). The
//     peer talks to us from there now and answers us there; the old
//     address does neither. A burst of loss does not look like this:
//     it silences both directions of the old pair without moving the
//     peer's requests to a new one. A backup through a relay, ours (another
//     local candidate) or the peer's (a relay remote candidate, which the
//     peer's backup probes reach us from), is failover's business, with
//     its longer SwitchAfter: it is not where the peer moved. The gap is the time the peer's next request takes to
//     reach us from its new address (at most its probe interval), plus a
//     round trip for our check and roamWait.
//   - Signalled: the peer withdrew the remote candidate of the selected
//     pair (RemoveRemoteCandidate). The path stays while nothing else
//     works, since a stale withdrawal must not cut a working connection,
//     but the first pair to succeed after the withdrawal takes over at
//     once, and the withdrawn candidate goes with its pairs. The gap is
//     the round trips the new pair's check needs.
//
// The old pair is marked failed, like a silent pair after a failover, so
// that a recheck moves back if it answers again.

// roam is the agent's roaming state: the selected pair's remote candidate
// the peer withdrew, and when.
type roam struct {
	withdrawn   netip.AddrPort
	withdrawnAt time.Time
}

// withdrawSelected records the peer's withdrawal of the remote candidate
// of the selected pair, which stays in use until another pair succeeds.
func (a *Agent) withdrawSelected(now time.Time, addr netip.AddrPort) {
	a.roam = roam{withdrawn: addr, withdrawnAt: now}
	// A pair that worked before may answer again within a round trip:
	// probe each now rather than wait for the pairs the peer's new
	// candidates bring. Once per withdrawal, bounded by the pairs.
	for _, p := range a.pairs {
		if p != a.selected && p.state == succeeded && p.remote.Addr != addr {
			a.sendProbe(now, p)
		}
	}
}

// selectedWithdrawn reports whether the peer withdrew the remote candidate
// of the selected pair.
func (a *Agent) selectedWithdrawn() bool {
	return a.selected != nil && a.roam.withdrawn.IsValid() && a.selected.remote.Addr == a.roam.withdrawn
}

// roamTarget is the pair the peer withdrew the selected pair's remote
// candidate for: the best that succeeded since the withdrawal.
func (a *Agent) roamTarget() *pair {
	s := a.selected
	if s == nil || a.failed != 0 || a.recovering || !a.selectedWithdrawn() {
		return nil
	}
	for _, p := range a.pairs { // highest priority first
		if p != s && p.state == succeeded && p.remote.Addr != s.remote.Addr && !p.answeredAt.Before(a.roam.withdrawnAt) {
			return p
		}
	}
	return nil
}

// roamSuspect is the pair the peer's requests moved to, if they did: on
// the selected pair's local candidate, to another address that is not a
// relay's, succeeded, answered after the selected pair last did, and the
// peer's requests there began after its last one on the selected pair. A
// peer that still probes the selected pair while it checks or probes
// another one (a backup, a second interface) has not moved, whatever the
// answers on the selected pair do.
func (a *Agent) roamSuspect() *pair {
	s := a.selected
	if s == nil || a.failed != 0 || a.recovering || s.remote.Type == stunmsg.Relay {
		return nil // the peer's relay withdraws its candidate when it goes
	}
	for _, p := range a.pairs { // highest priority first
		if p != s && p.state == succeeded && p.local.Base == s.local.Base && p.remote.Type != stunmsg.Relay &&
			p.remote.Addr != s.remote.Addr && p.answeredAt.After(a.live.heardAt) && p.peerSince.After(s.peerHeardAt) {
			return p
		}
	}
	return nil
}

// roamWait is how long a probe of the selected pair may go unanswered,
// once the peer's requests moved, before the agent follows them: three
// round trips as measured (more with a varying one), at most
// ProbeLossAfter, the wait without a measurement. An answer is not
// expected sooner, and a peer that moved sends none at all.
func (a *Agent) roamWait() time.Duration {
	if a.rtt.samples == 0 {
		return a.cfg.ProbeLossAfter
	}
	return min(a.cfg.ProbeLossAfter, max(3*a.rtt.smoothed, a.rtt.smoothed+4*a.rtt.variation))
}

// roamDeadline is when the selected pair, silent since its oldest
// unanswered probe while the peer's requests moved, is left.
func (a *Agent) roamDeadline() (time.Time, bool) {
	u := a.live.unansweredSince
	if u.IsZero() || a.roamSuspect() == nil {
		return time.Time{}, false
	}
	return u.Add(a.roamWait()), true
}

// maybeRoam moves to the pair the peer moved to, once the evidence is
// complete. Inputs that can complete it call it: a check succeeding, a
// request of the peer, a withdrawal, the roam deadline (HandleTimeout).
// When the peer's requests moved and no probe of the selected pair is out,
// one goes now: its silence (or answer) settles the question within
// roamWait, rather than at the next probe interval.
func (a *Agent) maybeRoam(now time.Time) {
	p := a.roamTarget()
	if p == nil {
		if p = a.roamSuspect(); p == nil {
			return
		}
		l := &a.live
		if l.unansweredSince.IsZero() {
			if now.Sub(l.lastProbeAt) >= a.roamWait() {
				a.sendProbe(now, a.selected)
				l.unansweredSince, l.lastProbeAt = now, now
			}
			return
		}
		if now.Before(l.unansweredSince.Add(a.roamWait())) {
			return
		}
	}
	old := a.selected
	old.state = failedState
	if a.nominating == old {
		a.nominating, old.useCandidate = nil, false
	}
	a.stats.Roams++
	a.moveTo(now, p)
	if !a.live.idle {
		// Confirm the new path at once, as after a failover.
		a.live.nextProbe = now
	}
	switch gone := old.remote.Addr; {
	case gone == p.remote.Addr:
	case gone == a.roam.withdrawn:
		a.roam = roam{}
		a.forgetRemote(gone)
	case old.remote.Type == stunmsg.PeerReflexive:
		// The address the peer left, learned from its requests, is
		// forgotten too: a NAT that rebinds again and again would
		// otherwise fill MaxRemoteCandidates with dead addresses, each
		// rechecked, until the next move cannot be learned. If the peer
		// was there after all, its next request there teaches it again.
		a.forgetRemote(gone)
	}
}

// forgetRemote drops a remote candidate and its pairs, the selected one
// excepted (the caller moved off it), and counts it: the owner drops its
// routes for the address (RemotesForgotten).
func (a *Agent) forgetRemote(addr netip.AddrPort) {
	if i := a.remoteIndex(addr); i >= 0 {
		a.remotes = slices.Delete(a.remotes, i, i+1)
		a.stats.RemotesForgotten++
	}
	a.removePairs(func(p *pair) bool { return p.remote.Addr == addr && p != a.selected })
}

// RemotesForgotten counts the remote candidates the agent forgot on its
// own (Stats.RemotesForgotten): when it changes, an owner that routes data
// by remote address drops the routes of addresses HasRemote no longer
// knows.
func (a *Agent) RemotesForgotten() uint64 { return a.stats.RemotesForgotten }

// HasRemote reports whether addr is one of the remote candidates.
func (a *Agent) HasRemote(addr netip.AddrPort) bool { return a.remoteIndex(addr) >= 0 }
