package ice

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
//   - Unsignalled: a probe of the selected pair went unanswered for
//     ProbeLossAfter, and a pair on the same local candidate to another
//     address has succeeded, answered after the selected pair last did,
//     and carried a request of the peer after its last one on the selected
//     pair. The peer talks to us from there now and answers us there; the
//     old address does neither. A burst of loss does not look like this:
//     it silences both directions of the old pair without moving the
//     peer's requests to a new one. A backup through a relay, ours (another
//     local candidate) or the peer's (a relay remote candidate, which the
//     peer's backup probes reach us from), is failover's business, with
//     its longer SwitchAfter: it is not where the peer moved. The gap is at most one probe interval (the next probe
//     to the old address) plus ProbeLossAfter.
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
	a.maybeRoam(now)
}

// selectedWithdrawn reports whether the peer withdrew the remote candidate
// of the selected pair.
func (a *Agent) selectedWithdrawn() bool {
	return a.selected != nil && a.roam.withdrawn.IsValid() && a.selected.remote.Addr == a.roam.withdrawn
}

// roamTarget is the pair the peer moved to, if the evidence above shows
// one, best first.
func (a *Agent) roamTarget(now time.Time) *pair {
	s := a.selected
	if s == nil || a.failed != 0 || a.recovering {
		return nil
	}
	if a.selectedWithdrawn() {
		for _, p := range a.pairs { // highest priority first
			if p != s && p.state == succeeded && p.remote.Addr != s.remote.Addr && !p.answeredAt.Before(a.roam.withdrawnAt) {
				return p
			}
		}
		return nil
	}
	u := a.live.unansweredSince
	if u.IsZero() || now.Before(u.Add(a.cfg.ProbeLossAfter)) {
		return nil
	}
	if s.remote.Type == stunmsg.Relay {
		return nil // the peer's relay withdraws its candidate when it goes
	}
	for _, p := range a.pairs {
		if p != s && p.state == succeeded && p.local.Base == s.local.Base && p.remote.Type != stunmsg.Relay &&
			p.remote.Addr != s.remote.Addr && p.answeredAt.After(a.live.heardAt) && p.peerHeardAt.After(s.peerHeardAt) {
			return p
		}
	}
	return nil
}

// maybeRoam moves to the pair the peer moved to, if any. Inputs that can
// complete the evidence call it: a probe counting as lost (HandleTimeout),
// a check succeeding, a request of the peer, a withdrawal.
func (a *Agent) maybeRoam(now time.Time) {
	p := a.roamTarget(now)
	if p == nil {
		return
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
	if gone := a.roam.withdrawn; gone.IsValid() && gone == old.remote.Addr {
		a.forgetRemote(gone)
	}
}

// forgetRemote drops a remote candidate and its pairs, the selected one
// excepted (the caller moved off it).
func (a *Agent) forgetRemote(addr netip.AddrPort) {
	a.roam = roam{}
	if i := a.remoteIndex(addr); i >= 0 {
		a.remotes = slices.Delete(a.remotes, i, i+1)
	}
	a.removePairs(func(p *pair) bool { return p.remote.Addr == addr && p != a.selected })
}
