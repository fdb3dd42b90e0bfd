package node

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/timer"
)

// gatherer asks STUN servers for server-reflexive candidates: one Binding
// request from every local address to the server of its family.
type gatherer struct {
	servers [2]netip.AddrPort // by family: [0] IPv4, [1] IPv6
	reqs    []gatherReq       // bounded by local addresses times families
	// srflx holds at most one candidate per family; a second mapping of
	// the same family is redundant (see Config.StunServers).
	srflx []stunmsg.Candidate
}

type gatherReq struct {
	local, server netip.AddrPort
	id            stunmsg.TxID
	payload       []byte
	sends         int
	rto           time.Duration
	nextAt        time.Time
	done          bool
	// refreshAt is when a done request is sent again (Config.StunRefresh):
	// the mapping it learned may have changed (srflx.go).
	refreshAt time.Time
}

func family(a netip.AddrPort) int {
	if a.Addr().Unmap().Is4() {
		return 0
	}
	return 1
}

func (g *gatherer) addServer(s netip.AddrPort) {
	s = netip.AddrPortFrom(s.Addr().Unmap(), s.Port())
	if !g.servers[family(s)].IsValid() {
		g.servers[family(s)] = s
	}
}

// offerDeadline offers each server's next request: a retransmission, or
// once answered, the refresh of the mapping.
func (g *gatherer) offerDeadline(next *timer.Next) {
	for i := range g.reqs {
		r := &g.reqs[i]
		if r.done {
			next.Offer(r.refreshAt, "node: stun-refresh")
		} else {
			next.Offer(r.nextAt, "node: stun-retransmit")
		}
	}
}

// startGather sends a request for every (local address, server) of one
// family that has none yet.
func (n *Node) startGather(now time.Time) {
	g := &n.gather
	for _, l := range n.locals {
		server := g.servers[family(l.Base)]
		if !server.IsValid() || g.has(l.Base, server) {
			continue
		}
		var id stunmsg.TxID
		binary.BigEndian.PutUint32(id[0:4], gatherTag)
		binary.BigEndian.PutUint64(id[4:12], n.cfg.Rand.Uint64())
		r := gatherReq{local: l.Base, server: server, id: id, payload: stunmsg.PlainBindingRequest(id),
			sends: 1, rto: n.cfg.StunRTO, nextAt: now.Add(n.cfg.StunRTO)}
		g.reqs = append(g.reqs, r)
		n.transmit(r.local, r.server, r.payload, gso.Control)
	}
}

func (g *gatherer) has(local, server netip.AddrPort) bool {
	for _, r := range g.reqs {
		if r.local == local && r.server == server {
			return true
		}
	}
	return false
}

// gatherTimeout retransmits with a doubling RTO and gives up one RTO after
// the last send.
func (n *Node) gatherTimeout(now time.Time) {
	for i := range n.gather.reqs {
		r := &n.gather.reqs[i]
		if r.done && !now.Before(r.refreshAt) {
			n.refreshMapping(now, r)
			continue
		}
		if r.done || now.Before(r.nextAt) {
			continue
		}
		if r.sends >= n.cfg.StunTransmits {
			// The server may be back by the next refresh.
			r.done, r.refreshAt = true, now.Add(n.cfg.StunRefresh)
			n.stats.StunTimeouts++
			continue
		}
		r.sends++
		r.rto *= 2
		// From now, not from the last deadline: a late call must not leave
		// the next retransmission already due.
		r.nextAt = now.Add(r.rto)
		n.transmit(r.local, r.server, r.payload, gso.Control)
	}
}

// gatherResponse takes a response carrying the gather tag.
func (n *Node) gatherResponse(local, remote netip.AddrPort, m *stun.Message) {
	g := &n.gather
	var r *gatherReq
	for i := range g.reqs {
		if g.reqs[i].id == m.TransactionID && !g.reqs[i].done {
			r = &g.reqs[i]
		}
	}
	if r == nil {
		n.drop(DropUnknownTransaction)
		return
	}
	if remote != r.server || (local != r.local && !(local.Port() == r.local.Port() && local.Addr().IsUnspecified())) {
		n.drop(DropSourceMismatch)
		return
	}
	resp, err := stunmsg.ParseResponse(m)
	if err != nil || !resp.Success {
		n.drop(DropMalformed)
		return
	}
	r.done, r.refreshAt = true, n.now.Add(n.cfg.StunRefresh)
	n.addSrflx(r.local, r.server, resp.Mapped)
}

// addSrflx keeps the first mapping per family, unless it is a host address
// already (no NAT in between, so it adds nothing), and announces it to
// every connection. A new mapping of the base that gave the kept one
// replaces it (srflx.go).
func (n *Node) addSrflx(base, server, mapped netip.AddrPort) {
	if n.mappingChanged(base, server, mapped) {
		return
	}
	for _, l := range n.locals {
		if l.Addr == mapped {
			return
		}
	}
	for _, s := range n.gather.srflx {
		if family(s.Addr) == family(mapped) {
			return
		}
	}
	pref := uint16(65535)
	for _, l := range n.locals {
		if l.Base == base {
			pref = uint16(l.Priority >> 8)
		}
	}
	c := stunmsg.NewCandidate(stunmsg.ServerReflexive, mapped, base, server, pref)
	n.gather.srflx = append(n.gather.srflx, c)
	n.order.Ascend(func(id ConnID) bool {
		if conn := n.conns[id]; conn.failed == 0 {
			n.addSrflxTo(conn, c)
		}
		return true
	})
}

// addSrflxTo signals the server-reflexive candidate s on c and tells c's
// agent, which does not pair it (its base is paired) but ranks a pair
// whose check the peer saw come from s as the peer does (iceagent's valid.go).
func (n *Node) addSrflxTo(c *conn, s Candidate) {
	// Over the agent's bound it still goes out: the peer may reach us on
	// it; the agent then ranks such a pair as peer reflexive.
	_ = c.agent.AddReflexiveCandidate(s)
	n.emit(CandidateGathered{Conn: c.id, Candidate: s})
}
