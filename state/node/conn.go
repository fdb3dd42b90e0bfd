package node

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/internal/iceagent"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// conn is one connection: its agent plus what the Node keeps around it.
type conn struct {
	id            ConnID
	agent         *iceagent.Agent
	role          Role // as requested by Connect; the agent's may differ
	local, remote Credentials
	tag           uint32
	path          Path
	connected     bool
	failed        FailReason
	pending       [][]byte // bounded by Config.PendingMax
	routes        []route
	timer         timerSlot
	// relay is the relay this connection uses, nil without relays. permIPs
	// and channel are what it asked the relay for (see relay.perms).
	relay   *relay
	permIPs []netip.Addr
	channel netip.AddrPort
	stats   connCounters
	// prev is the agent an ICE restart replaces, while it carries the
	// data; restartLocal our new credentials before the peer's came
	// (restart.go).
	prev         *prevAgent
	restartLocal Credentials
	// hadPath: the connection had a path once; a restart's first one is
	// then a PathChanged, even if the old agent failed meanwhile.
	hadPath bool
	// forgotten is the agent's count of forgotten remote candidates when
	// the routes were last pruned (forgotten.go).
	forgotten uint64
}

// Connect creates or updates connection id. It is an idempotent upsert:
// called again with the same role and credentials it changes nothing (and
// returns the same local credentials); with a different role or
// credentials, or after the connection failed, it restarts ICE for the ID.
// A zero local means "draw credentials from the seeded source"; the result
// is what to signal to the peer.
func (n *Node) Connect(now time.Time, id ConnID, role Role, local, remote Credentials) (Credentials, error) {
	now = n.clock(now)
	if !remote.Valid() || (local != Credentials{} && !local.Valid()) || (role != Controlling && role != Controlled) {
		return Credentials{}, ErrCredentials
	}
	if c, ok := n.conns[id]; ok {
		if c.failed == 0 && c.role == role && c.remote == remote && (local == Credentials{} || local == c.local) {
			return c.local, nil
		}
		if local == (Credentials{}) && c.remote == remote {
			local = c.local // keep what was signalled already
		}
		n.forget(c)
	} else if len(n.conns) >= n.cfg.MaxConns {
		n.stats.ConnsRefused++
		return Credentials{}, ErrTooManyConns
	}
	if local == (Credentials{}) {
		for {
			local = ice.NewCredentials(n.cfg.Rand)
			if _, taken := n.ufrags[local.Ufrag]; !taken {
				break
			}
		}
	} else if _, taken := n.ufrags[local.Ufrag]; taken {
		return Credentials{}, ErrUfragInUse
	}
	c := &conn{id: id, role: role, local: local, remote: remote, tag: n.newTag()}
	c.agent = iceagent.New(now, n.cfg.ICE, iceagent.Params{
		Role: role, Local: local, Remote: remote,
		TieBreaker: n.cfg.Rand.Uint64(), TxTag: c.tag, Rand: n.cfg.Rand,
	})
	n.conns[id] = c
	n.order.ReplaceOrInsert(id)
	n.ufrags[local.Ufrag] = id
	n.tags[c.tag] = id
	c.relay = n.pickRelay()
	n.gatherInto(now, c)
	n.settle(c)
	return local, nil
}

// gatherInto gives c's agent every candidate the Node has: host, relayed
// and server-reflexive (which the agent also ranks pairs by).
func (n *Node) gatherInto(now time.Time, c *conn) {
	for _, l := range n.locals {
		n.addLocalTo(now, c, l)
	}
	n.addRelayCandidate(c)
	for _, s := range n.gather.srflx {
		n.addSrflxTo(c, s)
	}
}

func (n *Node) newTag() uint32 {
	for {
		t := n.cfg.Rand.Uint32()
		if _, taken := n.tags[t]; !taken && t != gatherTag {
			return t
		}
	}
}

// Close ends connection id and emits Closed. Buffered data is discarded.
func (n *Node) Close(now time.Time, id ConnID) error {
	n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return ErrUnknownConn
	}
	n.forget(c)
	n.emit(Closed{Conn: id, Reason: ClosedByApp})
	return nil
}

// forget removes every trace of c from the Node's indexes.
func (n *Node) forget(c *conn) {
	n.forgotten++
	n.retirePrev(c)
	if c.restartLocal != (Credentials{}) {
		delete(n.ufrags, c.restartLocal.Ufrag)
	}
	n.releasePeers(c)
	n.unindex(c)
	delete(n.conns, c.id)
	n.order.Delete(c.id)
	delete(n.ufrags, c.local.Ufrag)
	delete(n.tags, c.tag)
	for _, r := range c.routes {
		if n.routes[r] == c.id {
			delete(n.routes, r)
		}
	}
}

// AddRemoteCandidate gives connection id a candidate the peer signalled.
func (n *Node) AddRemoteCandidate(now time.Time, id ConnID, cand Candidate) error {
	now = n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return ErrUnknownConn
	}
	if c.failed != 0 {
		return ErrConnFailed
	}
	if err := c.agent.AddRemoteCandidate(now, cand); err != nil {
		return err
	}
	n.permit(c, cand.Addr)
	n.settle(c)
	// A new relay candidate may replace the one a silent path points at.
	n.dropReplacedPeerRelay(c)
	return nil
}

// RemoveRemoteCandidate withdraws a remote candidate. The path in use, if
// it is that one, stays until its probes fail, unless the candidate is the
// peer's relay candidate (its allocation is gone): then the connection
// moves to another succeeded pair or checks for a new path until the lost
// one's probe timeout (see the package documentation, Relays).
func (n *Node) RemoveRemoteCandidate(now time.Time, id ConnID, addr netip.AddrPort) error {
	now = n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return ErrUnknownConn
	}
	c.agent.RemoveRemoteCandidate(now, addr)
	n.settle(c)
	return nil
}

// AddLocalAddress registers an address a socket of the driver is bound to
// (not a wildcard). It becomes a host candidate of every connection and,
// with a STUN server of its family, the source of a server-reflexive one.
func (n *Node) AddLocalAddress(now time.Time, addr netip.AddrPort) error {
	now = n.clock(now)
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return ErrInvalidAddr
	}
	for _, l := range n.locals {
		if l.Base == addr {
			return nil
		}
	}
	n.removed = slices.DeleteFunc(n.removed, func(a netip.AddrPort) bool { return a == addr })
	if len(n.locals) >= n.cfg.MaxLocalAddresses {
		return ErrTooManyAddrs
	}
	// Earlier addresses rank higher: drivers register their preferred
	// interface first.
	cand := stunmsg.NewCandidate(stunmsg.Host, addr, addr, netip.AddrPort{}, uint16(65535-len(n.locals)))
	n.locals = append(n.locals, cand)
	n.order.Ascend(func(id ConnID) bool {
		c := n.conns[id]
		n.addLocalTo(now, c, cand)
		n.settle(c)
		return true
	})
	n.startGather(now)
	return nil
}

// AddStunServer adds a STUN server for server-reflexive candidates (see
// Config.StunServers).
func (n *Node) AddStunServer(now time.Time, server netip.AddrPort) error {
	now = n.clock(now)
	if !server.IsValid() || server.Port() == 0 {
		return ErrInvalidAddr
	}
	n.gather.addServer(server)
	n.startGather(now)
	return nil
}

func (n *Node) addLocalTo(now time.Time, c *conn, cand Candidate) {
	if c.failed != 0 {
		return
	}
	if err := c.agent.AddLocalCandidate(now, cand); err != nil {
		return // over the agent's bound: it keeps the earlier, preferred ones
	}
	n.emit(CandidateGathered{Conn: c.id, Candidate: cand})
}

// Send queues payload for the peer of connection id: a Data transmit on the
// selected path, or, while connecting or while the agent recovers a lost
// path, a copy in a small buffer flushed on Connected or PathChanged. A
// full buffer drops the payload, counts it and returns ErrPendingFull:
// like a lost UDP datagram, it is the caller's to retry or forget. A
// payload over the connection's MaxPayload is refused with an error
// wrapping ErrPayloadTooLarge, never accepted and lost. What the buffer
// holds when the connection fails is dropped and counted (PendingDropped). The Data transmit aliases payload; see
// Transmit.Payload.
func (n *Node) Send(now time.Time, id ConnID, payload []byte) error {
	now = n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return ErrUnknownConn
	}
	if c.failed != 0 {
		return ErrConnFailed
	}
	if len(payload) == 0 {
		return ErrEmptyPayload
	}
	if !c.connected {
		if limit := n.pendingMaxPayload(c); len(payload) > limit {
			return tooLarge(len(payload), limit)
		}
		if len(c.pending) >= n.cfg.PendingMax {
			n.stats.PendingDropped++
			c.stats.pendingDropped++
			return ErrPendingFull
		}
		c.pending = append(c.pending, append([]byte(nil), payload...))
		return nil
	}
	if limit := n.maxPayload(c); len(payload) > limit {
		// A relay server would drop it without a word; refuse it here.
		return tooLarge(len(payload), limit)
	}
	n.send(c, c.path.Src(), c.path.Dst(), payload, gso.Data)
	c.stats.sent(len(payload))
	if c.agent.NotifyAppTraffic(now) {
		n.settle(c)
	}
	return nil
}

// settle drains c's agent into the Node's outputs and re-indexes its timer.
// Call it after every input or command given to the agent: an agent's
// event may become the Node's transmit (Connected flushes buffered data).
func (n *Node) settle(c *conn) {
	for {
		t, ok := c.agent.PollTransmit()
		if !ok {
			break
		}
		n.send(c, t.Src, t.Dst, t.Payload, gso.Control)
	}
	for {
		e, ok := c.agent.PollEvent()
		if !ok {
			break
		}
		n.agentEvent(c, e)
	}
	n.settlePrev(c)
	n.pruneForgotten(c)
	n.reindex(c)
}

func (n *Node) agentEvent(c *conn, e iceagent.Event) {
	switch e.Kind {
	case iceagent.EventConnected, iceagent.EventPathChanged:
		// A restart's first path replaces the old agent's: a change of
		// path, not a new connection.
		restarted := e.Kind == iceagent.EventConnected && (n.retirePrev(c) || c.hadPath)
		c.hadPath = true
		n.takePath(c, e.Path, e.Kind == iceagent.EventPathChanged || restarted)
	case iceagent.EventPathLost:
		// The agent checks for a new path (ice recovery). Until it has
		// one, Send buffers as while connecting: nothing can leave on a
		// path whose candidate is gone.
		c.connected = false
	case iceagent.EventFailed:
		if n.restartFailed(c) {
			return // the old agent carries on
		}
		// What Send buffered (accepted with nil) never leaves: counted.
		n.stats.PendingDropped += uint64(len(c.pending))
		c.stats.pendingDropped += uint64(len(c.pending))
		c.failed, c.connected, c.pending = e.Reason, false, nil
		n.emit(Failed{Conn: c.id, Reason: e.Reason})
	case iceagent.EventRoleChanged:
		n.emit(RoleChanged{Conn: c.id, Role: e.Role})
	default:
		panic("node: unknown agent event")
	}
}

// takePath moves c's data onto path, announcing it as a change of path or
// as the connection's first. Both agents of a restart come here (the old
// one recovering from a lost path too), so that whichever gives the
// connection a path also ends its buffering.
func (n *Node) takePath(c *conn, path Path, changed bool) {
	c.path = path
	n.addRoute(c, route{local: path.Src(), remote: path.Dst()})
	n.bindChannel(c, path)
	if changed {
		n.emit(PathChanged{Conn: c.id, Path: path})
	} else {
		n.emit(Connected{Conn: c.id, Path: path})
	}
	if c.connected {
		return
	}
	// Connected, or a new path after a recovery: what Send buffered
	// meanwhile goes out now, in order.
	c.connected = true
	limit := n.maxPayload(c)
	for _, p := range c.pending {
		if len(p) > limit {
			// Send buffered against the least any path carries, so
			// this happens only if a relay added since carries less.
			n.stats.PendingDropped++
			c.stats.pendingDropped++
			continue
		}
		n.send(c, c.path.Src(), c.path.Dst(), p, gso.Data)
		c.stats.sent(len(p))
	}
	c.pending = nil
}

// addRoute lets application data from r reach c. A connection keeps the
// routes of every path the peer authenticated on, bounded by its pairs.
func (n *Node) addRoute(c *conn, r route) {
	if id, ok := n.routes[r]; ok && id == c.id {
		return
	}
	if len(c.routes) >= n.maxRoutes() {
		// Only a peer that knows the password gets here, but even it must
		// not grow our tables without bound (a role-conflicting check from
		// a fresh port each time adds a route without a pair).
		return
	}
	n.routes[r] = c.id
	for _, x := range c.routes {
		if x == r {
			return
		}
	}
	c.routes = append(c.routes, r)
}
