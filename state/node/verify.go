package node

import (
	"slices"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file holds the fast check of a relay under a silent path.
//
// A TURN server that restarts forgets every allocation and says nothing:
// its Binding answers look as before, and the client hears of the loss only
// from the 437 to its next Refresh, up to turn.Config.RefreshAfter away.
// Everything relayed meanwhile is dropped, so a connection whose path
// leaves from our relayed address would fail with ProbeTimeout after
// ice.Config.ProbeTimeout, although a re-allocation carries it over in a
// round trip or two (see the package documentation, Relays).
//
// The connection hears it first: its probes go unanswered. So once a
// probe on a path through a relay counts as lost (ice.Config.
// ProbeLossAfter after it left), the Node asks the relay's client
// to verify the allocation at once (turn.Client.Verify: a Refresh and a
// probe). A 437, or a grant to the probe, starts or is the re-allocation,
// and the connection moves to the new allocation; when the path leaves
// from our relayed address, the client also asks again for the permission
// and channel toward its far end (turn.Client.Reinstall), which a server
// configured with lifetimes shorter than RFC 8656's may have dropped. The
// client sends at most one verification per turn.Config.VerifyInterval
// (longer while verifications find the allocation alive), so a lossy
// path costs the server little; RelayStats counts them
// (Client.Verifications, Client.VerificationsLimited).
//
// A path toward the peer's relayed address goes through the peer's
// allocation, which only the peer can verify; but each side may send to the
// other's relayed address from its host candidate, so that neither path
// leaves from its own allocation while both cross both allocations (ours
// carries the peer's path). So a silent path that touches a relay at either
// end verifies our allocation too: a Refresh per VerifyInterval at most,
// while a direct path's silence costs nothing. The peer finds the loss of
// its own allocation the same way and re-allocates, and this side learns
// the new relayed address from the signalled candidate (CandidateGathered
// there, AddRemoteCandidate here). The application may not signal the
// withdrawal of the old one, or it may come late; waiting for it, or for
// ice.Config.SwitchAfter, would leave this side on the dead path
// for seconds. A Node keeps one allocation per relay server, so a new relay
// candidate from the server of the path's remote relay candidate (the same
// foundation: type, relayed IP and server) means the old one is gone. When
// the path is silent too, this side forgets the old candidate as if its
// withdrawal had been signalled (RemoveRemoteCandidate): the connection
// moves to another succeeded pair, or checks for one and moves to the new
// candidate (PathChanged). A path that still answers is kept: a candidate
// from another relay on the same server, or a stale signalling message,
// cannot cut a working connection.

// checkRelaysUnder runs both checks on c's path: our allocation under it,
// and the peer's relay candidate it points at. Call it after the agent's
// timers ran (losing a probe is a timer) and after a remote candidate
// arrived.
func (n *Node) checkRelaysUnder(c *conn) {
	n.verifyRelayUnder(c)
	n.dropReplacedPeerRelay(c)
}

// silent reports whether c's path has an unanswered probe that counts as
// lost.
func (n *Node) silent(c *conn) bool {
	since, ok := c.agent.SilentSince()
	return ok && !n.now.Before(since.Add(n.cfg.ICE.ProbeLossAfter))
}

// verifyRelayUnder asks c's relay to verify its allocation when c's path
// goes through a relay (ours, or the peer's relayed address) and the
// path's oldest unanswered probe counts as lost. Call it after the
// agent's timers ran: losing a probe is a timer.
func (n *Node) verifyRelayUnder(c *conn) {
	r := c.relay
	if r == nil || !r.allocated() {
		return
	}
	if !c.connected {
		n.verifyRelayUnderLost(c, r)
		return
	}
	if !r.isBase(c.path.Src()) && c.path.Remote.Type != stunmsg.Relay {
		return
	}
	if !n.silent(c) {
		return
	}
	// A path from our relayed address needs our permission and channel
	// toward its far end, which a server with short lifetimes may have
	// dropped while the client counts them installed (turn.Client.
	// Reinstall).
	reinstalled := r.isBase(c.path.Src()) && r.client.Reinstall(n.now, c.path.Dst())
	if r.client.Verify(n.now) || reinstalled {
		// Both only queue requests: no event to follow.
		n.relayTransmits(r)
		n.reindexRelay(r)
	}
}

// verifyRelayUnderLost is verifyRelayUnder for a connection recovering a
// lost path (c.path is the lost one). A restart takes both sides'
// allocations on a server, but each side learns of its own loss only
// from its own path's silence, and the side that re-allocates first
// withdraws its relay candidate: the peer's path is then lost by that
// withdrawal before its own probe counts as lost, and with no selected
// path nothing would verify the peer's own dead allocation. Its checks
// from there would vanish at the server until the probe timeout failed
// the connection (RelayLost; against pion/turn about one restart in six
// with both sides relay-only). So the lost path counts as silent since
// its last answer, and one that touched a relay verifies our allocation
// once ProbeLossAfter has passed, unless it left from a relayed address
// of ours that was already replaced: that allocation's loss is known.
func (n *Node) verifyRelayUnderLost(c *conn, r *relay) {
	heard, ok := c.agent.LostPathHeardAt()
	if !ok || n.now.Before(heard.Add(n.cfg.ICE.ProbeLossAfter)) {
		return
	}
	ours := c.path.Local.Type == stunmsg.Relay
	if ours && !r.isBase(c.path.Src()) || !ours && c.path.Remote.Type != stunmsg.Relay {
		return
	}
	if r.client.Verify(n.now) {
		n.relayTransmits(r)
		n.reindexRelay(r)
	}
}

// dropReplacedPeerRelay forgets the peer's relay candidate c's path
// points at when the path is silent and the peer has since signalled a
// relay candidate from the same server.
func (n *Node) dropReplacedPeerRelay(c *conn) {
	if !c.connected || c.failed != 0 || !n.silent(c) {
		return
	}
	dst := c.path.Dst()
	remotes := c.agent.Remotes() // in the order learned; bounded by MaxRemoteCandidates
	i := slices.IndexFunc(remotes, func(r Candidate) bool { return r.Addr == dst })
	if i < 0 || remotes[i].Type != stunmsg.Relay {
		return
	}
	old := remotes[i]
	if !slices.ContainsFunc(remotes[i+1:], func(r Candidate) bool {
		return r.Type == stunmsg.Relay && r.Foundation == old.Foundation
	}) {
		return
	}
	if c.agent.RemoveRemoteCandidate(n.now, dst) {
		n.stats.PeerRelaysReplaced++
		n.settle(c)
	}
}
