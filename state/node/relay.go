package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// relay is one TURN server the Node holds an allocation on, through its own
// turn.Client. Each connection uses at most one relay (conn.relay), drawn
// from the seeded source, and gets that relay's candidate.
type relay struct {
	id     uint64 // names the relay in the timer index
	server netip.AddrPort
	local  netip.AddrPort
	client *turn.Client
	// cand is the relay candidate while an allocation exists; its Base is
	// the relayed address, which is what the agents send from.
	cand Candidate
	// cand2 is a dual-stack allocation's other family (relayfamily.go).
	cand2   Candidate
	closing bool // RemoveRelay was called: no new connections pick it
	// sendErrors counts what the client refused (see RelayStats).
	sendErrors uint64
	removed    bool
	timer      timerSlot
	// retryAt is when a lost relay gets a fresh client (zero: not
	// waiting); losses counts losses since the last grant (relayretry.go).
	retryAt time.Time
	losses  int
	// Reference counts of what connections asked the client for, so that
	// one connection closing does not remove what another still uses.
	// Lookups only; never ranged over.
	perms map[netip.Addr]int
	chans map[netip.AddrPort]int
}

func (r *relay) allocated() bool { return r.cand.Addr.IsValid() }

// stream reports whether the relay's server is reached over TCP or TLS:
// the address it reflects is then the stream's, no UDP candidate.
func (r *relay) stream() bool { return r.client.Identity().Transport.Stream() }

// AddRelay starts an allocation on the TURN server at server, sending from
// the local socket address local with long-term credentials. Connections
// without a relay, and every later one, use it once it is allocated: its
// relay candidate comes as CandidateGathered (and the server-reflexive
// address it reports as another). Timers and bounds come from
// Config.Relay, adjusted for this relay by opts (WithMaxPayload).
func (n *Node) AddRelay(now time.Time, server, local netip.AddrPort, username, password string, opts ...RelayOption) error {
	now = n.clock(now)
	server, local = stunmsg.Unmap(server), stunmsg.Unmap(local)
	if !server.IsValid() || server.Port() == 0 || !local.IsValid() || local.Port() == 0 {
		return ErrInvalidAddr
	}
	if r := n.relayByServer(server); r != nil {
		if r.retryAt.IsZero() {
			return ErrRelayExists
		}
		// Lost and waiting to retry: the caller's relay replaces it now.
		n.removeRelay(r)
	}
	if len(n.relays) >= n.cfg.MaxRelays {
		return ErrTooManyRelays
	}
	cfg := n.cfg.Relay
	id := turn.Identity{Server: server, Local: local, Username: username, Password: password, Rand: n.cfg.Rand}
	for _, o := range opts {
		o(&id, &cfg)
	}
	client, err := turn.New(now, id, cfg)
	if err != nil {
		return err
	}
	n.relaySeq++
	r := &relay{id: n.relaySeq, server: server, local: local, client: client,
		perms: make(map[netip.Addr]int), chans: make(map[netip.AddrPort]int)}
	n.relays = append(n.relays, r)
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == nil && c.failed == 0 {
			c.relay = r
			// A relay to replace what a lost path used may come again.
			c.agent.SetRecovery(now, true, 0)
		}
		return true
	})
	n.drainRelay(r)
	return nil
}

// RemoveRelay releases the allocation on server (a Refresh with LIFETIME 0)
// and forgets the relay once the server answers or the release times out.
// Connections on it move to another path or fail with RelayLost, as when
// the relay is lost, but no RelayFailed is emitted.
func (n *Node) RemoveRelay(now time.Time, server netip.AddrPort) error {
	now = n.clock(now)
	r := n.relayByServer(stunmsg.Unmap(server))
	if r == nil {
		return ErrUnknownRelay
	}
	if r.closing {
		return nil
	}
	if r.client.State().Terminal() {
		// Lost, waiting to retry: nothing to release.
		n.removeRelay(r)
		return nil
	}
	r.closing = true
	r.client.Close(now)
	n.drainRelay(r)
	return nil
}

// Relays returns the servers of the relays in use, in the order added.
func (n *Node) Relays() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(n.relays))
	for _, r := range n.relays {
		out = append(out, r.server)
	}
	return out
}

func (n *Node) relayByServer(server netip.AddrPort) *relay {
	for _, r := range n.relays {
		if r.server == server {
			return r
		}
	}
	return nil
}

func (n *Node) relayByID(id uint64) *relay {
	for _, r := range n.relays {
		if r.id == id {
			return r
		}
	}
	panic("node: timer of an unknown relay")
}

// relayFor returns the relay whose server sent a datagram that arrived on
// local, if any. Relays are few (Config.MaxRelays), so a scan is cheapest.
func (n *Node) relayFor(local, remote netip.AddrPort) *relay {
	for _, r := range n.relays {
		if r.hears(local, remote) {
			return r
		}
	}
	return nil
}

// drainRelay moves a relay client's output into the Node's after an input:
// its transmits go out as Control, its events become candidates, moved or
// failed connections and Node events. Call it after every input or
// command given to the client.
func (n *Node) drainRelay(r *relay) {
	r.local = r.client.Local() // the race's winner (relayfamily.go)
	n.relayTransmits(r)
	for {
		e, ok := r.client.PollEvent()
		if !ok {
			break
		}
		n.relayEvent(r, e)
	}
	// The events may have given the client commands (permissions).
	n.relayTransmits(r)
	n.reindexRelay(r)
}

func (n *Node) relayTransmits(r *relay) {
	for {
		t, ok := r.client.PollTransmit()
		if !ok {
			return
		}
		n.transmit(t.Src, t.Dst, t.Payload, t.Class)
		n.out[len(n.out)-1].Transport = t.Transport
	}
}

func (n *Node) reindexRelay(r *relay) {
	at, reason, ok := r.client.PollTimeout()
	if !ok && !r.retryAt.IsZero() {
		at, reason, ok = r.retryAt, "node: relay retry", true
	}
	n.setTimer(&r.timer, timerItem{at: at, relay: true, id: r.id, reason: reason}, ok && !r.removed)
}

func (n *Node) relayEvent(r *relay, e turn.Event) {
	switch e.Kind {
	case turn.EventReflexive:
		if !r.stream() {
			n.addSrflx(r.local, r.server, e.Reflexive)
		}
	case turn.EventAllocated:
		if e.Reflexive.IsValid() && !r.stream() {
			n.addSrflx(r.local, r.server, e.Reflexive)
		}
		n.setCands(r, e)
		r.losses = 0
		n.adoptConns(r)
		n.repickRelays()
		n.forConnsOn(r, func(c *conn) { n.addRelayCandidate(c) })
	case turn.EventWithdrawn:
		n.withdrawRelay(r)
	case turn.EventLost:
		n.relayLost(r, e)
	case turn.EventClosed:
		n.removeRelay(r)
	case turn.EventPeerFailed:
		n.peerRefused(r, e)
		if base, ok := r.baseFor(e.Peer); ok {
			n.forConnsOn(r, func(c *conn) { c.agent.FailPairs(n.now, base, e.Peer.Addr()) })
		}
	case turn.EventPermitted, turn.EventChannelBound:
		// Informational: Send already uses the channel once it is bound.
	default:
		panic("node: unknown relay event " + e.Kind.String())
	}
}

// relayPref ranks relay candidates by the order relays were added, like
// host candidates by the order of their addresses.
func (n *Node) relayPref(r *relay) uint16 {
	for i, x := range n.relays {
		if x == r {
			return uint16(65535 - i)
		}
	}
	return 0
}

// forConnsOn calls fn for every live connection on relay r, in ID order,
// and settles each.
func (n *Node) forConnsOn(r *relay, fn func(c *conn)) {
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == r && c.failed == 0 {
			fn(c)
			n.settle(c)
		}
		return true
	})
}

// addRelayCandidate gives c its relay's candidates (one per family of the
// allocation), announces them, and asks for a permission toward every
// remote candidate the peer signalled so far, so that checks through the
// relay are not dropped by the server.
func (n *Node) addRelayCandidate(c *conn) {
	r := c.relay
	if r == nil || !r.allocated() || c.failed != 0 {
		return
	}
	added := false
	for _, cand := range r.cands() {
		if c.agent.HasLocal(cand.Base) || c.agent.AddLocalCandidate(n.now, cand) != nil {
			continue // over the agent's bound: the direct candidates stay
		}
		n.emit(CandidateGathered{Conn: c.id, Candidate: cand})
		added = true
	}
	if !added {
		return
	}
	for _, rc := range c.agent.Remotes() {
		n.permit(c, rc.Addr)
	}
}

// withdrawRelay: the allocation is gone (lost, closed, or replaced by a
// fresh one). Every connection on it loses the relay candidate — the
// application signals CandidateWithdrawn to the peer — and moves to another
// succeeded path, or, with none, its agent goes back to checking (ice
// recovery) until the lost path's probe timeout: a re-allocation brings a
// new candidate within a round trip or two, and the connection moves onto
// it (PathChanged). What the connections asked the client for stays
// counted: a client that re-allocates keeps its permissions and channels
// and asks for them again on the new allocation, so only a connection's
// Close (releasePeers) gives them back; a client that ended forgot them,
// and so does the Node then (forgetPeers).
func (n *Node) withdrawRelay(r *relay) {
	olds := r.cands()
	if len(olds) == 0 {
		return
	}
	r.cand, r.cand2 = Candidate{}, Candidate{}
	n.forConnsOn(r, func(c *conn) {
		for _, old := range olds {
			if c.agent.RemoveLocalCandidate(n.now, old.Base, ice.RelayLost) {
				n.emit(CandidateWithdrawn{Conn: c.id, Candidate: old})
			}
		}
	})
}

// removeRelay forgets a relay whose client ended, and gives its connections
// another relay if there is one.
func (n *Node) removeRelay(r *relay) {
	if r.removed {
		return
	}
	n.withdrawRelay(r)
	n.forgetPeers(r)
	r.removed = true
	n.clearTimer(&r.timer)
	for i, x := range n.relays {
		if x == r {
			n.relays = append(n.relays[:i], n.relays[i+1:]...)
			break
		}
	}
	n.releaseConns(r)
}

// forgetPeers drops the counts of what connections asked r's client for:
// the client ended (lost or closed) and its peer table with it. Failed
// connections still hold their relay until Close, so all are cleared.
func (n *Node) forgetPeers(r *relay) {
	clear(r.perms)
	clear(r.chans)
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == r {
			c.permIPs, c.channel = c.permIPs[:0], netip.AddrPort{}
		}
		return true
	})
}

// releaseConns gives the connections on r, which is gone or lost, another
// relay if there is one.
func (n *Node) releaseConns(r *relay) {
	n.order.Ascend(func(id ConnID) bool {
		c := n.conns[id]
		if c.relay != r {
			return true
		}
		c.relay = nil
		if c.failed == 0 {
			c.relay = n.pickRelay()
			n.addRelayCandidate(c)
			if c.relay == nil {
				// Our relay is gone for good and none took over. A
				// connection recovering a lost path fails now with
				// RelayLost, and so does one that later loses its path
				// with no succeeded pair to move to: the peer's relay
				// candidate withdrawn next to ours most likely went in
				// the same outage (often the same server), and failing at
				// once lets the application add a relay or reconnect
				// instead of waiting out the probe timeout. AddRelay,
				// or the relay's retry once granted, turns recovery
				// back on.
				c.agent.SetRecovery(n.now, false, ice.RelayLost)
			}
			n.settle(c)
		}
		return true
	})
}
