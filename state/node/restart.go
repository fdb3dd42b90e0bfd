package node

import (
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/internal/iceagent"
	"github.com/peerlink/peerlink/state/timer"
)

// This file holds the ICE restart that keeps data flowing: new credentials
// and a new agent checking every pair again, while the agent the
// connection had keeps its selected pair carrying the data and answering
// the peer's probes. The new agent's first selected pair replaces the old
// path (PathChanged, not Connected: to the program it is the same
// connection); until then nothing changes for Send. Either side starts it,
// and the other learns of it through signalling:
//
//	a: local, _ := n.RestartICE(now, id, Credentials{})  // signal local to b
//	b: local, _ := n.RestartICE(now, id, fromA)          // signal local back to a
//	a: n.RestartICE(now, id, fromB)                      // both now check
//
// and both signal the candidates gathered again, as on Connect. A restart
// whose checks fail (the new agent fails) is dropped: the connection stays
// on the agent it had, whose probes decide about it as before. A program
// restarts when something changed that checks must discover (it moved to
// another network, the peer's candidates are all stale), or to rotate
// credentials.

// prevAgent is the agent a restart replaces, kept while it carries data.
type prevAgent struct {
	agent         *iceagent.Agent
	tag           uint32
	local, remote Credentials
}

// RestartICE restarts ICE on connection id without interrupting it (see
// above). With zero remote credentials it only draws our new credentials,
// to signal to the peer (calling it again returns the same ones); with the
// peer's new credentials it starts the new agent, with the credentials it
// drew before or new ones, and returns ours. Credentials equal to the
// current remote ones change nothing.
func (n *Node) RestartICE(now time.Time, id ConnID, remote Credentials) (Credentials, error) {
	now = n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return Credentials{}, ErrUnknownConn
	}
	if c.failed != 0 {
		return Credentials{}, ErrConnFailed
	}
	if remote != (Credentials{}) && !remote.Valid() {
		return Credentials{}, ErrCredentials
	}
	if remote == c.remote {
		return c.local, nil
	}
	local := c.restartLocal
	if local == (Credentials{}) {
		local = n.freshCredentials()
		n.ufrags[local.Ufrag] = id // the peer's checks may come first
	}
	if remote == (Credentials{}) {
		c.restartLocal = local
		return local, nil
	}
	c.restartLocal = Credentials{}
	n.stats.Restarts++
	switch {
	case c.prev == nil && c.connected:
		// The agent carrying the data stays until the new one selects.
		c.prev = &prevAgent{agent: c.agent, tag: c.tag, local: c.local, remote: c.remote}
	default:
		// Nothing to keep (not connected), or a restart of a restart: the
		// agent that never selected goes.
		n.dropAgentIndex(c.tag, c.local.Ufrag)
	}
	c.tag, c.local, c.remote = n.newTag(), local, remote
	n.tags[c.tag] = id
	c.agent = iceagent.New(now, n.cfg.ICE, iceagent.Params{
		Role: c.role, Local: local, Remote: remote,
		TieBreaker: n.cfg.Rand.Uint64(), TxTag: c.tag, Rand: n.cfg.Rand,
	})
	n.gatherInto(now, c) // as on Connect, so it ranks pairs as the peer does
	n.settle(c)
	return local, nil
}

func (n *Node) freshCredentials() Credentials {
	for {
		local := ice.NewCredentials(n.cfg.Rand)
		if _, taken := n.ufrags[local.Ufrag]; !taken {
			return local
		}
	}
}

// dropAgentIndex forgets the routing of an agent that goes.
func (n *Node) dropAgentIndex(tag uint32, ufrag string) {
	delete(n.tags, tag)
	delete(n.ufrags, ufrag)
}

// agentForUfrag is the agent a request naming our ufrag goes to.
func (c *conn) agentForUfrag(ufrag string) *iceagent.Agent {
	if c.prev != nil && ufrag == c.prev.local.Ufrag {
		return c.prev.agent
	}
	return c.agent
}

// agentForTag is the agent a response carrying tag goes to.
func (c *conn) agentForTag(tag uint32) *iceagent.Agent {
	if c.prev != nil && tag == c.prev.tag {
		return c.prev.agent
	}
	return c.agent
}

// retirePrev ends a restart whose new agent selected a pair: the old agent
// goes. It reports whether there was one.
func (n *Node) retirePrev(c *conn) bool {
	p := c.prev
	if p == nil {
		return false
	}
	c.prev = nil
	n.dropAgentIndex(p.tag, p.local.Ufrag)
	return true
}

// restartFailed takes the new agent's failure while the old one still
// carries the connection: the restart is dropped and the old agent is the
// connection's again. It reports whether it did.
func (n *Node) restartFailed(c *conn) bool {
	p := c.prev
	if p == nil {
		return false
	}
	c.prev = nil
	n.dropAgentIndex(c.tag, c.local.Ufrag)
	c.agent, c.tag, c.local, c.remote = p.agent, p.tag, p.local, p.remote
	n.stats.RestartsFailed++
	return true
}

// settlePrev drains the old agent during a restart: its transmits (probes,
// answers to the peer's) go out; its path changes move the data while the
// new agent has none, as the agent's own do (a path it recovers after a
// loss ends Send's buffering); its loss leaves the connection buffering
// until either agent selects (its failure is the new agent's to report).
func (n *Node) settlePrev(c *conn) {
	p := c.prev
	if p == nil {
		return
	}
	for {
		t, ok := p.agent.PollTransmit()
		if !ok {
			break
		}
		n.send(c, t.Src, t.Dst, t.Payload, gso.Control)
	}
	for {
		e, ok := p.agent.PollEvent()
		if !ok {
			break
		}
		switch e.Kind {
		case iceagent.EventConnected, iceagent.EventPathChanged:
			// The old agent recovered a lost path (or moved it): the
			// data goes there, and what Send buffered since goes too.
			n.takePath(c, e.Path, true)
		case iceagent.EventPathLost, iceagent.EventFailed:
			c.connected = false
			if e.Kind == iceagent.EventFailed {
				c.prev = nil
				n.dropAgentIndex(p.tag, p.local.Ufrag)
				return
			}
		}
	}
}

// deadline merges the old agent's deadline into the connection's.
func (c *conn) deadline() (time.Time, string, bool) {
	var next timer.Next
	next.OfferIf(c.agent.PollTimeout())
	if c.prev != nil {
		next.OfferIf(c.prev.agent.PollTimeout())
	}
	return next.Poll()
}

// handleTimeout runs the due timers of the connection's agents.
func (c *conn) handleTimeout(now time.Time) {
	c.agent.HandleTimeout(now)
	if c.prev != nil {
		c.prev.agent.HandleTimeout(now)
	}
}

// selected is the connection's path: the new agent's, or during a restart
// the old one's until the new one selects.
func (c *conn) selected() (Path, bool) {
	if p, ok := c.agent.Selected(); ok || c.prev == nil {
		return p, ok
	}
	return c.prev.agent.Selected()
}
