package ice

import (
	"net/netip"
	"time"

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
	if p.state == waiting || p.state == failedState {
		p.state = waiting
		a.trigger(p)
	}
	if req.UseCandidate && a.role == Controlled {
		if p.state == succeeded {
			a.selectPair(now, p)
		} else {
			p.nominateOnSuccess = true
		}
	}
	return DropNone
}

// roleConflict applies RFC 8445 7.3.1.1: when both sides claim the same
// role, the larger tie-breaker is controlling. It returns true when it
// answered 487 and the request must go no further.
func (a *Agent) roleConflict(local, remote netip.AddrPort, req stunmsg.BindingRequest) bool {
	theyControl := req.Controlling
	if theyControl != (a.role == Controlling) {
		return false
	}
	// Same role claimed. Controlling with the larger (or equal) tie-breaker
	// keeps the role and tells the peer; controlled with the larger one
	// takes control; otherwise we yield silently or tell the peer.
	weWin := a.tieBreaker >= req.TieBreaker
	if weWin == (a.role == Controlling) {
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
			return nil, DropCandidateLimit
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
