package node

import (
	"net/netip"

	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// This file holds a relay's address families. A dual-stack allocation
// (turn.FamilyDual) has two relayed addresses, one per family: r.cand
// (the first the server named) and r.cand2 (the other family's). Each is
// a relay candidate of its own; ICE pairs each with the peer's candidates
// of its family only, so a peer reachable over IPv6 alone meets our IPv6
// relayed address, and one over IPv4 alone our IPv4 one. What is sent
// toward a peer leaves from the relayed address of the peer's family, and
// what comes from a peer arrived there.

// WithFamily sets the relayed address families this relay asks for
// (turn.Identity.Family): turn.FamilyDual gives connections a relay
// candidate of each family where the server has both.
func WithFamily(f turn.Family) RelayOption {
	return func(id *turn.Identity, _ *turn.Config) { id.Family = f }
}

// cands returns r's relay candidates, the first family's first; none
// while r holds no allocation.
func (r *relay) cands() []Candidate {
	switch {
	case !r.allocated():
		return nil
	case r.cand2.Addr.IsValid():
		return []Candidate{r.cand, r.cand2}
	}
	return []Candidate{r.cand}
}

// isBase reports whether src is one of r's relayed addresses: what a
// connection sends from it goes through r's client.
func (r *relay) isBase(src netip.AddrPort) bool {
	return r.allocated() && (src == r.cand.Base || r.cand2.Addr.IsValid() && src == r.cand2.Base)
}

// baseFor returns r's relayed address of peer's family; ok is false when
// r has none of that family.
func (r *relay) baseFor(peer netip.AddrPort) (netip.AddrPort, bool) {
	is4 := peer.Addr().Unmap().Is4()
	for _, c := range r.cands() {
		if c.Base.Addr().Is4() == is4 {
			return c.Base, true
		}
	}
	return netip.AddrPort{}, false
}

// setCands makes the candidates of a granted allocation. Both share the
// relay's preference: they never pair with the same remote candidate.
func (n *Node) setCands(r *relay, e turn.Event) {
	pref := n.relayPref(r)
	r.cand = stunmsg.NewCandidate(stunmsg.Relay, e.Relayed, e.Relayed, r.server, pref)
	r.cand2 = Candidate{}
	if e.Additional.IsValid() {
		r.cand2 = stunmsg.NewCandidate(stunmsg.Relay, e.Additional, e.Additional, r.server, pref)
	}
}

// WithAlternate gives the relay the server's second address (its IPv6
// one beside an IPv4 server, or the reverse), reached from local: the
// first Binding goes to both and the first address to answer is the one
// the relay keeps (turn.Identity.Alternate). The relay is still named by
// the server given to AddRelay.
func WithAlternate(server, local netip.AddrPort) RelayOption {
	return func(id *turn.Identity, _ *turn.Config) {
		id.Alternate, id.AlternateLocal = stunmsg.Unmap(server), stunmsg.Unmap(local)
	}
}

// hears reports whether a datagram from remote that arrived on local is
// r's server talking: at the address r's client uses, or while the race
// of WithAlternate is on, at either.
func (r *relay) hears(local, remote netip.AddrPort) bool {
	if remote == r.client.Server() && stunmsg.SameLocal(local, r.client.Local()) {
		return true
	}
	id := r.client.Identity()
	return r.client.State() == turn.StateBinding && id.Alternate.IsValid() &&
		remote == id.Alternate && stunmsg.SameLocal(local, id.AlternateLocal)
}
