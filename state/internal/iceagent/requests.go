package iceagent

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/pion/stun/v2"
)

// HandleRequest takes a decoded Binding request whose USERNAME named this
// agent's ufrag. Every authentic check is answered, idle or not, because
// the peer's liveness depends on it. The request may also reveal a
// peer-reflexive candidate, trigger a check, resolve a role conflict, or
// (controlled side) nominate a pair.
func (a *Agent) HandleRequest(now time.Time, local, remote netip.AddrPort, m *stun.Message) DropReason {
	if a.failed != 0 {
		// No answer: the peer must see this connection fail too.
		return DropFailed
	}
	req, err := stunmsg.ParseBindingRequest(m)
	if err != nil {
		return DropMalformed
	}
	if recv, sender, _ := stunmsg.SplitUsername(req.Username); recv != a.local.Ufrag || sender != a.remote.Ufrag {
		return DropUsername
	}
	if stunmsg.CheckIntegrity(m, a.local.Pwd) != nil {
		return DropIntegrity
	}
	if a.roleConflict(local, remote, req) {
		return DropNone
	}
	a.send(local, remote, stunmsg.SuccessResponse(req.TxID, remote, a.local.Pwd))
	a.stats.ResponsesSent++
	p, drop := a.pairForRequest(now, local, remote, req.Priority)
	if p == nil {
		return drop
	}
	if p.peerHeardAt.IsZero() || !now.Before(p.peerHeardAt.Add(a.cfg.ProbeTimeout)) {
		p.peerSince = now
	}
	p.peerHeardAt = maxTime(p.peerHeardAt, now)
	if p.state == waiting || p.state == failedState {
		p.state = waiting
		a.trigger(p)
	}
	if req.UseCandidate && a.role == ice.Controlled {
		if p.state == succeeded {
			if a.followsNomination(now, p) {
				a.selectPair(now, p)
			}
		} else {
			p.nominateOnSuccess = true
		}
	}
	a.maybeRoam(now)
	return DropNone
}

// roleConflict applies RFC 8445 7.3.1.1: when both sides claim the same
// role, the larger tie-breaker is controlling. It returns true when it
// answered 487 and the request must go no further.
func (a *Agent) roleConflict(local, remote netip.AddrPort, req stunmsg.BindingRequest) bool {
	theyControl := req.Controlling
	if theyControl != (a.role == ice.Controlling) {
		return false
	}
	// Same role claimed. Controlling with the larger (or equal) tie-breaker
	// keeps the role and tells the peer; controlled with the larger one
	// takes control; otherwise we yield silently or tell the peer.
	weWin := a.tieBreaker >= req.TieBreaker
	if weWin == (a.role == ice.Controlling) {
		a.send(local, remote, stunmsg.ErrorResponse(req.TxID, stunmsg.CodeRoleConflict, "Role Conflict", a.local.Pwd))
		a.stats.ResponsesSent++
		return true
	}
	a.switchRole()
	return false
}

// pairForRequest finds or creates the pair a request arrived on, learning
// a peer-reflexive remote candidate (with the request's PRIORITY) and a
// host candidate for a local address nobody registered.
func (a *Agent) pairForRequest(now time.Time, local, remote netip.AddrPort, prio uint32) (*pair, DropReason) {
	if p := a.findPair(local, remote); p != nil {
		return p, DropNone
	}
	l, ok := a.localByBase(local)
	if !ok {
		if !local.IsValid() || local.Addr().IsUnspecified() {
			return nil, DropNone
		}
		l = stunmsg.NewCandidate(stunmsg.Host, local, local, netip.AddrPort{}, 0)
		if a.AddLocalCandidate(now, l) != nil {
			return nil, DropCandidateLimit
		}
	}
	if a.remoteIndex(remote) < 0 {
		c := stunmsg.Candidate{
			Foundation: stunmsg.Foundation(stunmsg.PeerReflexive, remote.Addr(), netip.Addr{}),
			Component:  stunmsg.ComponentRTP, Priority: prio, Type: stunmsg.PeerReflexive, Addr: remote,
		}
		if err := a.AddRemoteCandidate(now, c); err != nil {
			if l.Type != stunmsg.Relay || !a.evictPeerReflexive() || a.AddRemoteCandidate(now, c) != nil {
				return nil, DropCandidateLimit
			}
		}
	}
	p := a.findPair(local, remote)
	if p == nil {
		// The local candidate was learned above (AddLocalCandidate paired
		// it with every remote) or existed: the pair must exist unless the
		// families differ, which findPair's callers rule out.
		return a.addPair(now, l, a.remotes[a.remoteIndex(remote)]), DropNone
	}
	return p, DropNone
}

// evictPeerReflexive makes room for a peer-reflexive candidate learned from
// a check on one of our relay candidates: it forgets the oldest
// peer-reflexive candidate that no succeeded, selected or nominated pair
// uses. Between two NATs whose mapping depends on the destination port (and
// whose filtering lets the checks in), every direct check to a
// peer-reflexive address leaves through a new mapping and reveals another
// one, so the table fills with addresses that never answer from where they
// were sent. Refusing the newcomer then refuses the one that matters: the
// peer's mapping toward our relayed address, learned from its checks
// through the relay. We would still answer those checks, the controlling
// peer would select the pair, and we, controlled, never would. Only checks
// through our relay may evict, and they cannot cascade (the relay's address
// is fixed), so the table stays bounded and a direct-path storm cannot churn
// it; signalled candidates are never evicted.
func (a *Agent) evictPeerReflexive() bool {
	for _, r := range a.remotes { // oldest first
		if r.Type != stunmsg.PeerReflexive || a.remoteInUse(r.Addr) {
			continue
		}
		// Not RemoveRemoteCandidate: the caller adds a pair at once, so the
		// all-checks-failed test must not run in between. None of its
		// pairs is selected (remoteInUse).
		a.forgetRemote(r.Addr)
		return true
	}
	return false
}

// remoteInUse reports whether a pair on remote addr succeeded, carries the
// connection or waits to be nominated.
func (a *Agent) remoteInUse(addr netip.AddrPort) bool {
	for _, p := range a.pairs {
		if p.remote.Addr == addr && (p.state == succeeded || p == a.selected || p == a.nominating || p.nominateOnSuccess || p.useCandidate) {
			return true
		}
	}
	return false
}
