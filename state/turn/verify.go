package turn

import "time"

// This file holds verification: the owner's way to ask "does the server
// still hold my allocation?" now rather than at the next Refresh.
//
// A TURN server that restarts (a deploy, a crash) forgets every
// allocation but keeps answering Binding like any STUN server, so the
// keepalives see nothing wrong; only a request on the allocation (a
// Refresh, minutes away) gets the 437 that starts a re-allocation.
// Meanwhile every datagram relayed through it is dropped, and a
// connection on it goes silent. The connection is the first to notice:
// its probes go unanswered. Its owner then calls Verify, and the client
// sends a Refresh at once. A 437 (after a 438 for the new server's nonce)
// or a Refresh the live server never answers re-allocates as usual; a
// success just counts as a refresh and puts the next one half a lifetime
// away. A lossy path can lose a probe every few seconds, so verifications
// are rate-limited per allocation: at most one every
// Config.VerifyInterval.

// Verify sends a Refresh now, to learn whether the server still holds the
// allocation. It reports whether it did: not when the client holds no
// allocation, a Refresh is already in flight, or the last verification
// was less than Config.VerifyInterval ago (Stats.VerificationsLimited).
func (c *Client) Verify(now time.Time) bool {
	c.advance(now)
	if c.state != StateAllocated || c.pending(txRefresh, peerKey{}) != nil {
		return false
	}
	if !c.verifiedAt.IsZero() && c.now.Before(c.verifiedAt.Add(c.cfg.VerifyInterval)) {
		c.stats.VerificationsLimited++
		return false
	}
	c.verifiedAt = c.now
	c.stats.Verifications++
	c.startTx(request{kind: txRefresh, lifetime: c.cfg.Lifetime}, 0)
	return true
}
