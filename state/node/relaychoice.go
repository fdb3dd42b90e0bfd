package node

import (
	"slices"
	"time"
)

// This file holds which relay a connection uses.
//
// Each connection offers the relayed candidate of one relay (conn.relay).
// Relays far away add their round trip to every datagram of a relayed
// path, so a connection prefers near ones: among the live relays that hold
// an allocation, those whose round trip (turn.Client.RTT, smoothed from
// the client's own requests) is within relayRTTSlack of the best, drawn at
// random from the seeded source so that connections spread over relays of
// like worth and a seed replays the choice (Firezone's rule). Relays not
// measured yet count only when none is.
//
// A connection made before any relay holds an allocation draws among all
// live relays, and draws again when the first one is granted, if its own
// has still none: the relay that answers first is usually the nearest, and
// a connection should not wait for a far or dead one. A connection whose
// relay is lost or removed draws again among the rest (removeRelay,
// relayLost): the next relay takes over.

// relayRTTSlack is how much slower than the best a preferred relay may be:
// within 1.5 times, as num/den.
const relayRTTSlackNum, relayRTTSlackDen = 3, 2

// pickRelay chooses a relay for a connection, or nil when none is live.
func (n *Node) pickRelay() *relay {
	var live []*relay
	granted := false
	for _, r := range n.relays {
		if !r.closing && !r.client.State().Terminal() {
			live = append(live, r)
			granted = granted || r.allocated()
		}
	}
	if granted {
		live = slices.DeleteFunc(live, func(r *relay) bool { return !r.allocated() })
	}
	var best time.Duration
	for _, r := range live {
		if rtt, ok := r.client.RTT(); ok && (best == 0 || rtt < best) {
			best = rtt
		}
	}
	if best > 0 {
		live = slices.DeleteFunc(live, func(r *relay) bool {
			rtt, ok := r.client.RTT()
			return !ok || rtt*relayRTTSlackDen > best*relayRTTSlackNum
		})
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return live[n.cfg.Rand.IntN(len(live))]
}

// repickRelays moves connections whose relay holds no allocation yet to
// one that does: a relay was just granted.
func (n *Node) repickRelays() {
	n.order.Ascend(func(id ConnID) bool {
		c := n.conns[id]
		if c.failed == 0 && c.relay != nil && !c.relay.allocated() {
			c.relay = n.pickRelay()
		}
		return true
	})
}
