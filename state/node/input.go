package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/internal/iceagent"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// HandleDatagram takes one received datagram: local is the address it
// arrived on, remote its sender. What a relay's server sends goes to that
// relay's client first, and what it unwraps is demultiplexed as arriving on
// the relayed address. Otherwise only STUN with the magic cookie is
// peerlink's (stunmsg.IsSTUN): it goes to the agent it names (or to the
// STUN server gatherer). Anything else, first byte 64-79 included (RFC 7983
// and 9443 make that ChannelData only from a TURN server), is application
// data of the connection that owns the path (local, remote), or a counted
// drop (DropUnknownPath) when no connection's peer authenticated that path.
// For
// application data it returns the connection and the payload (a sub-slice
// of b) with ok true; everything else returns ok false, dropping and
// counting what nobody wants. It never panics on what the network sends.
func (n *Node) HandleDatagram(now time.Time, local, remote netip.AddrPort, b []byte) (id ConnID, payload []byte, ok bool) {
	now = n.clock(now)
	local, remote = stunmsg.Unmap(local), stunmsg.Unmap(remote)
	if n.wasRemoved(local) {
		n.drop(DropRemovedAddress)
		return 0, nil, false
	}
	if r := n.relayFor(local, remote); r != nil {
		return n.handleRelayed(now, r, remote, b)
	}
	if stunmsg.IsSTUN(b) {
		n.handleSTUN(now, local, remote, b)
		return 0, nil, false
	}
	// First byte 64-79 is ChannelData only from a relay's server, which
	// relayFor caught above; from a peer it is the application's.
	return n.appData(now, local, remote, b)
}

// appData delivers application data that arrived on the path (local,
// remote), directly or unwrapped by a relay.
func (n *Node) appData(now time.Time, local, remote netip.AddrPort, b []byte) (ConnID, []byte, bool) {
	id, found := n.routes[route{local: local, remote: remote}]
	if !found {
		n.drop(DropUnknownPath)
		return 0, nil, false
	}
	c := n.conns[id]
	if c.failed != 0 {
		n.dropFor(c, DropFailed)
		return 0, nil, false
	}
	c.stats.received(len(b))
	if c.agent.NotifyAppTraffic(now) {
		n.settle(c)
	}
	return id, b, true
}

func (n *Node) handleSTUN(now time.Time, local, remote netip.AddrPort, b []byte) {
	m := &n.msg
	if err := stunmsg.Decode(b, m); err != nil {
		n.drop(DropMalformed)
		return
	}
	switch {
	case stunmsg.IsBindingRequest(m):
		u, err := stunmsg.Username(m)
		if err != nil {
			n.drop(DropMalformed)
			return
		}
		recv, _, ok := stunmsg.SplitUsername(u)
		if !ok {
			n.drop(DropUsername)
			return
		}
		id, ok := n.ufrags[recv]
		if !ok {
			n.drop(DropUnknownUfrag)
			return
		}
		c := n.conns[id]
		if r := c.agentForUfrag(recv).HandleRequest(now, local, remote, m); r != iceagent.DropNone {
			n.dropFor(c, dropReason(r))
		} else {
			// The peer authenticated on this path, so it may send data on
			// it as soon as it sees our answer.
			n.addRoute(c, route{local: local, remote: remote})
		}
		n.settle(c)
	case stunmsg.IsBindingSuccess(m), stunmsg.IsBindingError(m):
		tag := iceagent.TxTag(m.TransactionID)
		if tag == gatherTag {
			n.gatherResponse(local, remote, m)
			return
		}
		id, ok := n.tags[tag]
		if !ok {
			n.drop(DropUnknownTransaction)
			return
		}
		c := n.conns[id]
		if r := c.agentForTag(tag).HandleResponse(now, local, remote, m); r != iceagent.DropNone {
			n.dropFor(c, dropReason(r))
		}
		n.settle(c)
	default:
		n.drop(DropUnexpectedSTUN)
	}
}

// HandleTimeout runs everything due at now: it visits only the connections
// whose deadline has come (the timer index), so its cost grows with the
// work due, not with the number of connections.
func (n *Node) HandleTimeout(now time.Time) {
	now = n.clock(now)
	n.gatherTimeout(now)
	for {
		it, ok := n.timers.Min()
		if !ok || it.at.After(now) {
			return
		}
		slot := n.timeoutOne(now, it)
		if !slot.indexed || slot.item.at.After(now) {
			continue
		}
		// A step may leave its owner due again: the relay checks that
		// follow a connection's timers may drop the peer's replaced relay
		// candidate and put pairs back to checking at once. The owner runs
		// again in this call, like any other due owner; only a step that
		// leaves it due twice at one instant is stuck.
		if slot.ranAt.Equal(now) && slot.runs >= maxStepsAtOnce {
			n.unstick(it)
		}
	}
}

// maxStepsAtOnce is how often one owner's timers may run at one instant
// before its deadline counts as stuck: once, and once more for what the
// Node's own checks after the first run made due.
const maxStepsAtOnce = 2

// unstick ends the owner of a deadline that did not advance past the time
// it ran at. Running it again would loop for ever; a library must not
// spin or crash on its own bug, so the owner goes, with a typed reason the
// program sees and a count: a connection fails with Internal, a relay is
// removed with LostInternal (its connections carry on without it).
func (n *Node) unstick(it timerItem) {
	n.stats.StuckTimers++
	if it.relay {
		r := n.relayByID(it.id)
		n.emit(RelayFailed{Server: r.server, Reason: turn.LostInternal})
		n.removeRelay(r)
		return
	}
	c := n.conns[ConnID(it.id)]
	c.agent.Abort(ice.Internal) // Failed{Internal} through settle
	n.settle(c)
	n.unindex(c) // a failed connection has no timers
}

// timeoutOne runs the due timers of one connection or relay; the events a
// relay raises flow into the Node's outputs in the same call.
func (n *Node) timeoutOne(now time.Time, it timerItem) *timerSlot {
	if it.relay {
		r := n.relayByID(it.id)
		n.clearTimer(&r.timer)
		r.timer.ran(now)
		if n.faults != nil && n.faults.skipTimeouts {
			n.reindexRelay(r)
			return &r.timer
		}
		if !n.retryRelay(r) {
			r.client.HandleTimeout(now)
		}
		n.drainRelay(r)
		return &r.timer
	}
	c := n.conns[ConnID(it.id)]
	n.unindex(c)
	c.timer.ran(now)
	if n.faults != nil && (n.faults.skipTimeouts || n.faults.skipFirstStep && c.timer.runs == 1) {
		n.reindex(c)
		return &c.timer
	}
	c.handleTimeout(now)
	n.settle(c)
	// After the agent's timers: losing a probe is a timer. What the checks
	// make due runs when HandleTimeout comes back to c.
	n.checkRelaysUnder(c)
	return &c.timer
}
