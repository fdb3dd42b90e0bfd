package node

import "slices"

// A connection's agent forgets remote candidates on its own: the
// peer-reflexive address a peer left when its NAT rebound, and one evicted
// to make room (iceagent roam.go, requests.go). Their routes go with them, so
// data from an address the peer left is a counted drop (DropUnknownPath)
// rather than a delivery, and the routes stay bounded by what the agent
// knows however often the peer's NAT rebinds.

// pruneForgotten drops c's routes to addresses its agents no longer know,
// once per change of the agent's count of forgotten candidates.
func (n *Node) pruneForgotten(c *conn) {
	f := c.agent.RemotesForgotten()
	if f == c.forgotten {
		return
	}
	c.forgotten = f
	c.routes = slices.DeleteFunc(c.routes, func(r route) bool {
		if c.agent.HasRemote(r.remote) || (c.prev != nil && c.prev.agent.HasRemote(r.remote)) {
			return false
		}
		if n.routes[r] == c.id {
			delete(n.routes, r)
		}
		return true
	})
}
