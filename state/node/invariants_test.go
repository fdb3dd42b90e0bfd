package node

import (
	"fmt"
	"testing"
)

// checkInvariants fails t when the Node's indexes disagree with each other:
// every connection is in the ordered index and the ufrag and tag tables,
// each owner has at most one timer and it is the one indexed, routes name
// live connections, and no deadline lies before the latest now.
func checkInvariants(t testing.TB, n *Node) {
	t.Helper()
	if err := n.invariantError(); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) invariantError() error {
	if n.order.Len() != len(n.conns) {
		return fmt.Errorf("order holds %d connections, the table %d", n.order.Len(), len(n.conns))
	}
	if len(n.conns) > n.cfg.MaxConns {
		return fmt.Errorf("%d connections over MaxConns %d", len(n.conns), n.cfg.MaxConns)
	}
	var err error
	timers := 0
	n.order.Ascend(func(id ConnID) bool {
		c, ok := n.conns[id]
		switch {
		case !ok:
			err = fmt.Errorf("conn %d ordered but not in the table", id)
		case n.ufrags[c.local.Ufrag] != id:
			err = fmt.Errorf("conn %d: ufrag %q routes to %d", id, c.local.Ufrag, n.ufrags[c.local.Ufrag])
		case n.tags[c.tag] != id:
			err = fmt.Errorf("conn %d: tag routes elsewhere", id)
		case len(c.pending) > n.cfg.PendingMax:
			err = fmt.Errorf("conn %d: %d pending over PendingMax", id, len(c.pending))
		case len(c.routes) > n.maxRoutes():
			err = fmt.Errorf("conn %d: %d routes", id, len(c.routes))
		case c.failed != 0 && c.timer.indexed:
			err = fmt.Errorf("conn %d failed but has a timer", id)
		}
		if c != nil && c.timer.indexed {
			timers++
			if _, found := n.timers.Get(c.timer.item); !found {
				err = fmt.Errorf("conn %d: timer not in the index", id)
			}
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	for _, r := range n.relays {
		if r.timer.indexed {
			timers++
		}
		if len(r.perms) > n.cfg.Relay.MaxPermissions*n.maxRoutes() {
			return fmt.Errorf("relay %v: %d permission counts", r.server, len(r.perms))
		}
	}
	if timers != n.timers.Len() {
		return fmt.Errorf("%d owners indexed, the index holds %d", timers, n.timers.Len())
	}
	// peerlink:order-independent: every entry is checked, the first bad one reported.
	for r, id := range n.routes {
		if _, ok := n.conns[id]; !ok {
			return fmt.Errorf("route %v names gone conn %d", r, id)
		}
	}
	if d, _, ok := n.PollTimeout(); ok && d.Add(-n.skew).Before(n.now) {
		return fmt.Errorf("deadline %v before now %v", d, n.now)
	}
	return nil
}
