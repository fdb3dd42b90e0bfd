package turn

import (
	"time"
)

// This file holds how the client finds an allocation gone and makes a new
// one.
//
// Evidence, not silence. An allocation is replaced only when the server
// says it is gone: a 437 to a Refresh, a permission or a channel, or a
// grant to a probe. A Refresh left unanswered while the server answers
// other requests means either that the server lost the allocation and
// keeps quiet about it (pion/turn answers no Refresh for an allocation it
// does not hold) or that loss took every answer; re-allocating on a
// lossy path would throw a live allocation away, and then meet the stale
// one below. So the client asks in a way every answer settles: a probe,
// an Allocate sent while allocated. RFC 8656 section 7.2 has a server
// answer an Allocate on a 5-tuple that holds an allocation with 437
// (allocation held: the silence was loss), and grant one on a free
// 5-tuple (the old allocation was gone; the grant is its replacement).
// pion/turn and coturn both do. A probe that goes unanswered says
// nothing yet, and the keepalive decides whether the server is there.
//
// A lost probe. An unanswered probe may have reached a server that had
// lost the allocation and granted it a new one on the same 5-tuple, with
// a new relayed address: every later Refresh then succeeds on that one,
// and a fresh probe meets it with 437, "held", while the client
// advertises the old address for good. So the next probe goes with the
// lost one's transaction ID (lostProbe), which the server answers for
// what it did: pion/turn and coturn keep the ID of the Allocate that made
// an allocation for the allocation's whole life (not only RFC 8656's 40 s
// transaction cache) and answer it again with the grant (pion/turn v4
// from its response cache, tests/turn shows it past 40 s; coturn's
// handle_turn_allocate rebuilds it from the allocation), and any other
// Allocate with 437. The grant replaces the allocation as usual;
// a 437 then means the old one was held; a 438 goes again with the same
// ID, since the server did not look. The next probe comes with the next
// verification or the next scheduled Refresh, whichever is first: the
// Refresh alone would succeed on the probe's allocation and prove
// nothing. Deleting and allocating afresh after every unanswered probe
// would settle it too, on any server, but it throws a live allocation
// (and every relayed path on it) away each time loss took a probe's five
// answers, which a lossy path does to a few percent of its verifications.
//
// A stale allocation. A socket that outlives nothing but its port (a
// program restarted on a fixed listen port) meets the allocation its
// earlier life left on the same 5-tuple: 437 to Allocate. The client
// deletes it (Refresh, LIFETIME 0) once and allocates again at once, which
// servers that delete on the spot (pion/turn) grant. coturn deletes about
// a second after it answers the Refresh, on its timer, and every further
// Refresh with LIFETIME 0 starts that second over (measured against coturn
// 4.6: Allocates every 100 ms with a Refresh before each never succeeded
// in 6 s; without, the first one a second after the Refresh did). So
// later Allocates go without a Refresh, staleAllocationWait apart at
// first and doubling, within Config.MaxRetries in a row.

// staleAllocationWait is the wait before the third Allocate after 437s in
// a row: coturn's second and a margin.
const staleAllocationWait = 1250 * time.Millisecond

// deleteStale answers a 437 to Allocate: delete the server's allocation on
// our 5-tuple, the first time, and allocate again (allocateAgain).
func (c *Client) deleteStale(code int) {
	if !c.countRealloc(code) {
		return
	}
	c.mismatches++
	if c.mismatches == 1 {
		c.startTx(request{kind: txRefresh, lifetime: 0}, 0)
		return
	}
	c.allocateAgain()
}

// allocateAgain follows the deletion of a stale allocation: the first
// Allocate goes at once (servers that delete on the spot grant it), later
// ones wait for the server's timer.
func (c *Client) allocateAgain() {
	if c.mismatches <= 1 {
		c.startAllocate()
		return
	}
	c.state = StateAllocating
	c.allocateAt = c.now.Add(staleAllocationWait << min(c.mismatches-2, 8))
}

// allocateWaits reports an Allocate waiting for its time (allocateAt).
func (c *Client) allocateWaits() bool {
	return c.state == StateAllocating && !c.allocateAt.IsZero()
}

// countRealloc counts one more re-allocation and loses the relay when
// there were too many in a row; it reports whether to go on.
func (c *Client) countRealloc(code int) bool {
	c.reallocs++
	if c.reallocs > c.cfg.MaxRetries {
		c.lose(LostRetries, code)
		return false
	}
	c.stats.Reallocations++
	return true
}

// reallocate replaces an allocation the server no longer has: withdraw the
// relayed address, forget what the server confirmed, allocate afresh and
// ask for every permission and channel again once granted. A probe in
// flight becomes that Allocate: the server may already have granted it,
// and a second Allocate would meet the probe's allocation with 437.
func (c *Client) reallocate(code int) {
	if !c.countRealloc(code) {
		return
	}
	c.withdraw()
	probe := c.pending(txAllocate, peerKey{})
	c.txs = c.txs[:0]
	// The 437 says the 5-tuple holds no allocation: a lost probe created
	// none that lives.
	c.lostProbeSet = false
	c.peers.unconfirm()
	if probe == nil {
		c.startAllocate()
		return
	}
	probe.req.probe, probe.req.verify = false, false
	c.txs = append(c.txs, probe)
	c.state = StateAllocating
}

// probe sends an Allocate while allocated, unless one is in flight. It
// runs on a verification's short schedule: its answer is wanted within a
// probe timeout of the path that asked.
func (c *Client) probe() {
	if c.pending(txAllocate, peerKey{}) != nil {
		return
	}
	c.stats.Probes++
	req := request{kind: txAllocate, lifetime: c.cfg.Lifetime, family: c.family, verify: true, probe: true}
	if c.lostProbeSet {
		c.startTxID(req, c.lostProbe, 0)
		return
	}
	c.startTx(req, 0)
}

// probing reports a probe in flight: while allocated, every Allocate is
// one. A scheduled Refresh waits for its answer.
func (c *Client) probing() bool {
	return c.state == StateAllocated && c.pending(txAllocate, peerKey{}) != nil
}

// probeAnswered takes a probe's error answer (401 and 438 are retried
// before). 437 proves the allocation held. Anything else is a server
// refusing what it should have answered with 437 or a grant: no word on
// the allocation, which the next Refresh settles.
func (c *Client) probeAnswered(code int) {
	c.lostProbeSet = false
	if code != CodeAllocationMismatch {
		c.stats.ProbesUnanswered++
		return
	}
	c.stats.ProbesHeld++
	c.held()
}

// replaced takes a probe's grant: the old allocation was gone, and this is
// the new one on the same 5-tuple.
func (c *Client) replaced(g grant) {
	c.stats.Reallocations++
	c.verified(false)
	c.withdraw()
	c.txs = c.txs[:0]
	c.peers.unconfirm()
	c.allocated(g)
}

// held records an answer that proves the server holds the allocation.
func (c *Client) held() {
	if c.state == StateAllocated {
		c.heldAt = c.now
	}
}
