package node

import "time"

// timerItem indexes one connection's next deadline. The index holds at most
// one item per connection, so HandleTimeout visits only connections that
// are due and PollTimeout reads the minimum: O(log n) in connections.
type timerItem struct {
	at     time.Time
	id     ConnID
	reason string
}

func (a timerItem) less(b timerItem) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.id < b.id
}

// reindex puts c's current deadline into the index. Call it after every
// input to c's agent.
func (n *Node) reindex(c *conn) {
	at, reason, ok := c.agent.PollTimeout()
	if c.failed != 0 {
		ok = false
	}
	if c.indexed && ok && c.timer.at.Equal(at) && c.timer.reason == reason {
		return
	}
	n.unindex(c)
	if ok {
		c.timer = timerItem{at: at, id: c.id, reason: reason}
		c.indexed = true
		n.timers.ReplaceOrInsert(c.timer)
	}
}

func (n *Node) unindex(c *conn) {
	if c.indexed {
		if _, found := n.timers.Delete(c.timer); !found {
			panic("node: indexed timer missing")
		}
		c.indexed = false
	}
}
