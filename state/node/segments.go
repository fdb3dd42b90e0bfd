package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// HandleSegments takes one received message that holds datagrams of seg
// bytes each, the last possibly shorter (a GRO-coalesced buffer: all from
// remote, all to local), and handles each as HandleDatagram does, calling
// deliver (if not nil) with every application payload in order. seg <= 0,
// or seg >= len(b), means b is one datagram. It returns how many datagrams
// b held.
//
// The datagrams of one message share their addresses, so the clock, the
// relay check and the route's connection are looked at once, not once per
// datagram, which is most of what HandleDatagram costs; the route is looked
// up again after a STUN message in the run, which may have changed it,
// and after a deliver that closed the connection (deliver may call the
// Node; a connection it closes gets nothing more of the message).
func (n *Node) HandleSegments(now time.Time, local, remote netip.AddrPort, b []byte, seg int, deliver func(ConnID, []byte)) int {
	if seg <= 0 || seg > len(b) {
		seg = len(b)
	}
	now = n.clock(now)
	local, remote = stunmsg.Unmap(local), stunmsg.Unmap(remote)
	count := 0
	if n.wasRemoved(local) {
		for ; len(b) > 0; count++ {
			b = b[min(seg, len(b)):]
			n.drop(DropRemovedAddress)
		}
		return count
	}
	if n.relayFor(local, remote) != nil {
		// From a relay's server: each datagram is unwrapped on its own.
		for ; len(b) > 0; count++ {
			k := min(seg, len(b))
			if id, payload, ok := n.HandleDatagram(now, local, remote, b[:k]); ok && deliver != nil {
				deliver(id, payload)
			}
			b = b[k:]
		}
		return count
	}
	var run appRun
	for ; len(b) > 0; count++ {
		k := min(seg, len(b))
		d := b[:k]
		b = b[k:]
		if stunmsg.IsSTUN(d) {
			n.endRun(now, &run)
			n.handleSTUN(now, local, remote, d)
			continue
		}
		if !run.looked {
			run = appRun{looked: true}
			if id, ok := n.routes[route{local: local, remote: remote}]; ok {
				run.id, run.c = id, n.conns[id]
			}
		}
		switch {
		case run.c == nil:
			n.drop(DropUnknownPath)
		case run.c.failed != 0:
			n.dropFor(run.c, DropFailed)
		default:
			run.c.stats.received(k)
			run.delivered = true
			if deliver != nil {
				gen := n.forgotten
				deliver(run.id, d)
				if n.forgotten != gen && n.conns[run.id] != run.c {
					// deliver closed it: the rest of the message is
					// from a route nothing owns now.
					run = appRun{}
				}
			}
		}
	}
	n.endRun(now, &run)
	return count
}

// appRun is a run of application datagrams on one route within a message.
type appRun struct {
	looked    bool
	id        ConnID
	c         *conn // nil when no connection owns the route
	delivered bool
}

// endRun tells the run's connection of its traffic, once for the run: at
// one instant a second notice changes nothing.
func (n *Node) endRun(now time.Time, run *appRun) {
	if run.delivered && run.c.agent.NotifyAppTraffic(now) {
		n.settle(run.c)
	}
	*run = appRun{}
}
