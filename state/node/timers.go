package node

import "time"

// timerItem indexes the next deadline of one connection or one relay. The
// index holds at most one item per owner, so HandleTimeout visits only
// owners that are due and PollTimeout reads the minimum: O(log n) in
// connections and relays.
type timerItem struct {
	at time.Time
	// relay: the item belongs to the relay numbered id, not a connection.
	relay  bool
	id     uint64
	reason string
}

func (a timerItem) less(b timerItem) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.relay != b.relay {
		return b.relay // connections first: they were there before relays
	}
	return a.id < b.id
}

// timerSlot is an owner's place in the index.
type timerSlot struct {
	item    timerItem
	indexed bool
	// ranAt and runs count the owner's steps at one instant, so that
	// HandleTimeout tells an owner its own step made due again from one
	// whose deadline never advances.
	ranAt time.Time
	runs  int
}

// ran records a step of the owner at now.
func (s *timerSlot) ran(now time.Time) {
	if !s.ranAt.Equal(now) {
		s.ranAt, s.runs = now, 0
	}
	s.runs++
}

// set puts the owner's deadline into the index (or takes it out when ok
// is false). Call it after every input to the owner.
func (n *Node) setTimer(s *timerSlot, it timerItem, ok bool) {
	if s.indexed && ok && s.item.at.Equal(it.at) && s.item.reason == it.reason {
		return
	}
	n.clearTimer(s)
	if ok {
		s.item, s.indexed = it, true
		n.timers.ReplaceOrInsert(it)
	}
}

func (n *Node) clearTimer(s *timerSlot) {
	if s.indexed {
		if _, found := n.timers.Delete(s.item); !found {
			panic("node: indexed timer missing")
		}
		s.indexed = false
	}
}

// reindex puts c's current deadline into the index.
func (n *Node) reindex(c *conn) {
	at, reason, ok := c.deadline()
	n.setTimer(&c.timer, timerItem{at: at, id: uint64(c.id), reason: reason}, ok && c.failed == 0)
}

func (n *Node) unindex(c *conn) { n.clearTimer(&c.timer) }
