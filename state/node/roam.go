package node

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// This file holds what the Node does when a local address goes away: the
// laptop left the Wi-Fi, an interface went down, a gateway's uplink
// failed over. Everything that used the address goes with it at once,
// rather than each part waiting for its own timeout:
//
//   - its host candidate, and the server-reflexive candidate learned
//     through it, are withdrawn from every connection (CandidateWithdrawn,
//     for the application to signal), and the pairs on it fail;
//   - a connection whose selected path left from it moves to another pair
//     that works (PathChanged), or checks the pairs it has and will get
//     (ice recovery) until the lost path's probe timeout: a new address
//     registered with AddLocalAddress brings new pairs within a round trip;
//   - a relay allocated from it is lost (RelayFailed with
//     turn.LostLocalAddress) and its connections move to another relay;
//   - the STUN server requests from it stop, and one of the addresses left
//     asks for the server-reflexive mapping the removed one provided.

// RemoveLocalAddress unregisters an address added with AddLocalAddress
// (see above). Removing an address that is not registered changes
// nothing, as adding one twice does.
func (n *Node) RemoveLocalAddress(now time.Time, addr netip.AddrPort) error {
	now = n.clock(now)
	addr = stunmsg.Unmap(addr)
	if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return ErrInvalidAddr
	}
	n.loseRelaysFrom(addr) // AddRelay takes any local address, registered or not
	i := slices.IndexFunc(n.locals, func(l stunmsg.Candidate) bool { return l.Base == addr })
	if i < 0 {
		return nil
	}
	host := n.locals[i]
	n.locals = slices.Delete(n.locals, i, i+1)
	n.rememberRemoved(addr)
	srflx := n.forgetGatheredFrom(addr)
	n.order.Ascend(func(id ConnID) bool {
		c := n.conns[id]
		n.dropRoutesFrom(c, addr)
		if c.failed != 0 {
			return true
		}
		if c.agent.RemoveLocalCandidate(now, addr, ice.ProbeTimeout) {
			n.emit(CandidateWithdrawn{Conn: id, Candidate: host})
		}
		if c.prev != nil {
			c.prev.agent.RemoveLocalCandidate(now, addr, ice.ProbeTimeout)
		}
		for _, s := range srflx {
			n.emit(CandidateWithdrawn{Conn: id, Candidate: s})
		}
		n.settle(c)
		return true
	})
	n.startGather(now)
	return nil
}

// forgetGatheredFrom drops the STUN server requests sent from addr and the
// server-reflexive candidates learned through it, which it returns. A
// family that lost its candidate gets asked again from every address left
// (addSrflx kept only the first mapping of each family, so the others'
// answers were dropped).
func (n *Node) forgetGatheredFrom(addr netip.AddrPort) []Candidate {
	g := &n.gather
	var gone []Candidate
	g.srflx = slices.DeleteFunc(g.srflx, func(s stunmsg.Candidate) bool {
		if s.Base != addr {
			return false
		}
		gone = append(gone, s)
		return true
	})
	g.reqs = slices.DeleteFunc(g.reqs, func(r gatherReq) bool {
		if r.local == addr {
			return true
		}
		for _, s := range gone {
			if r.done && family(r.local) == family(s.Addr) {
				return true
			}
		}
		return false
	})
	return gone
}

// loseRelaysFrom ends the relays whose allocation was made from addr: the
// server's answers, and every peer datagram it relays, would go to an
// address we no longer have.
func (n *Node) loseRelaysFrom(addr netip.AddrPort) {
	for _, r := range slices.Clone(n.relays) {
		if r.local == addr && !r.removed {
			n.emit(RelayFailed{Server: r.server, Reason: turn.LostLocalAddress})
			n.removeRelay(r)
		}
	}
}

// rememberRemoved notes a removed address, so that what still arrives on
// it is dropped rather than make an agent learn it again as a local
// candidate (and answer from it, which no socket can do any more).
// AddLocalAddress forgets it again.
func (n *Node) rememberRemoved(addr netip.AddrPort) {
	n.removed = slices.DeleteFunc(n.removed, func(a netip.AddrPort) bool { return a == addr })
	if len(n.removed) >= n.cfg.MaxLocalAddresses {
		n.removed = slices.Delete(n.removed, 0, 1)
	}
	n.removed = append(n.removed, addr)
}

func (n *Node) wasRemoved(local netip.AddrPort) bool {
	return len(n.removed) > 0 && slices.Contains(n.removed, local)
}

// dropRoutesFrom forgets c's application-data routes on the local address.
func (n *Node) dropRoutesFrom(c *conn, addr netip.AddrPort) {
	c.routes = slices.DeleteFunc(c.routes, func(r route) bool {
		if r.local != addr {
			return false
		}
		if n.routes[r] == c.id {
			delete(n.routes, r)
		}
		return true
	})
}

// MoveLocalAddress is for a socket that now receives at to instead of from:
// the driver rebound it (a new port, another interface), or the program
// knows the address changed. from is removed as RemoveLocalAddress does,
// with one difference: a relay allocated from it is allocated again from
// to (same server, credentials and options) instead of being lost, since
// its 5-tuple changed and the old allocation cannot be reached. to becomes
// a host candidate as with AddLocalAddress, first, so that the connections
// that lose their path to from have its pairs to check.
func (n *Node) MoveLocalAddress(now time.Time, from, to netip.AddrPort) error {
	now = n.clock(now)
	from, to = stunmsg.Unmap(from), stunmsg.Unmap(to)
	if !from.IsValid() || from.Port() == 0 || from.Addr().IsUnspecified() {
		return ErrInvalidAddr
	}
	if from == to {
		return nil
	}
	if err := n.AddLocalAddress(now, to); err != nil {
		return err
	}
	if err := n.moveRelays(now, from, to); err != nil {
		return err
	}
	return n.RemoveLocalAddress(now, from)
}

// moveRelays allocates again from to every relay allocated from from. The
// old one goes without a word to its server (nothing sent from a lost
// address arrives; the allocation expires there), its candidate is
// withdrawn, and its connections take the new relay (recovering their
// path meanwhile, as after a re-allocation).
func (n *Node) moveRelays(now time.Time, from, to netip.AddrPort) error {
	for _, r := range slices.Clone(n.relays) {
		if r.local != from || r.removed {
			continue
		}
		id, old := r.client.Identity(), r.client.Config()
		n.withdrawRelay(r)
		r.removed = true
		n.clearTimer(&r.timer)
		n.relays = slices.DeleteFunc(n.relays, func(x *relay) bool { return x == r })
		n.order.Ascend(func(id ConnID) bool {
			if c := n.conns[id]; c.relay == r {
				c.relay = nil
			}
			return true
		})
		// The move keeps all but the address that moved: timers,
		// transport, families and the server's alternate. r.local is the
		// server's address or, when the alternate won the race, the
		// alternate's; whichever was from is to now, the other stays.
		local, altLocal := id.Local, id.AlternateLocal
		if local == from {
			local = to
		}
		if altLocal == from {
			altLocal = to
		}
		keep := func(i *turn.Identity, c *turn.Config) {
			*c = old
			i.Transport, i.Family = id.Transport, id.Family
			i.Alternate, i.AlternateLocal = id.Alternate, altLocal
		}
		if err := n.AddRelay(now, id.Server, local, id.Username, id.Password, keep); err != nil {
			return err
		}
	}
	return nil
}
