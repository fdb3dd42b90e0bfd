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
// re-allocates as usual; a success just counts as a refresh and puts the
// next one half a lifetime away. A lossy path can lose a probe every few
// seconds, so verifications are rate-limited per allocation: at most one
// every Config.VerifyInterval.
//
// Some servers (pion/turn) never answer a Refresh for an allocation they no
// longer hold, and loss can take every answer to a Refresh too; the two
// look alike. So a verification sends, beside its Refresh, a probe: an
// Allocate, which every server answers either way (realloc.go): 437 if the
// allocation is held, a grant of the new one if it was gone. Both go on a
// short schedule, verifyTransmits sends from Config.RequestRTO with the RTO
// capped at verifyRTOMax (a few seconds in all with the default RTO), and a
// Binding on the full schedule goes beside them, so that a server dead with
// the path is found within RequestTimeout. A verification is concluded
// "gone" only on evidence (a 437 or the probe's grant), "alive" on a
// Refresh answer or the probe's 437; one that hears nothing is dropped
// (Stats.VerificationsInconclusive) and the keepalive's full schedule
// decides whether the relay is lost.
//
// A lossy connection asks often, so each verification that finds the
// allocation alive doubles the wait before the next one (up to
// maxVerifyWait); one that finds it gone starts over at
// VerifyInterval. A persistently lossy path then asks about once a minute.

// Verify sends a Refresh now, to learn whether the server still holds the
// allocation. It reports whether it did: not when the client holds no
// allocation, a Refresh is already in flight, or the last verification
// was less than Config.VerifyInterval ago (Stats.VerificationsLimited).
func (c *Client) Verify(now time.Time) bool {
	c.advance(now)
	if c.state != StateAllocated || c.pending(txRefresh, peerKey{}) != nil {
		return false
	}
	if c.verifyWait == 0 {
		c.verifyWait = c.cfg.VerifyInterval
	}
	if !c.verifiedAt.IsZero() && c.now.Before(c.verifiedAt.Add(c.verifyWait)) {
		c.stats.VerificationsLimited++
		return false
	}
	c.startVerification()
	c.probe()
	c.keepaliveNow()
	return true
}

// StreamReset tells a client over TCP or TLS that the stream to its
// server broke and a new one is up. The server tied the allocation to the
// old stream (RFC 8656 section 3.1), so it is gone: this is no guess from
// a silent path but a known loss, and the client verifies at once
// whatever VerifyInterval says, which brings the 437 (or the probe's
// grant) and the new allocation within a round trip or two. The rest is
// Verify's: a Refresh and a probe on the short schedule, a Binding on the
// full one, counted in Stats.Verifications. What was in flight went down
// with the old stream, so a request of these already in flight is not
// doubled (a second Refresh or probe would race the first) but sent again
// now on the new stream, as one of its transmissions; a Refresh in flight
// (a verification's or a scheduled one) then stands for the verification.
// StreamReset reports whether a verification is under way: not for a
// client over UDP or without an allocation.
func (c *Client) StreamReset(now time.Time) bool {
	c.advance(now)
	if !c.id.Transport.Stream() || c.state != StateAllocated {
		return false
	}
	c.stats.StreamResets++
	if tx := c.pending(txRefresh, peerKey{}); tx != nil {
		c.send(tx)
	} else {
		c.startVerification()
	}
	if tx := c.pending(txAllocate, peerKey{}); tx != nil {
		c.send(tx)
	} else {
		c.probe()
	}
	if tx := c.pending(txBinding, peerKey{}); tx != nil {
		c.send(tx)
	} else {
		c.keepaliveNow()
	}
	return true
}

// startVerification sends a verification's Refresh and notes when, for
// the rate limit.
func (c *Client) startVerification() {
	c.verifiedAt = c.now
	c.stats.Verifications++
	c.startTx(request{kind: txRefresh, lifetime: c.cfg.Lifetime, verify: true}, 0)
}

// keepaliveNow sends a Binding on the full schedule beside a verification,
// unless one is in flight: a server that died with the path is found
// within RequestTimeout of the silence, not of the next keepalive.
func (c *Client) keepaliveNow() {
	if c.pending(txBinding, peerKey{}) == nil {
		c.keepaliveAt = c.now.Add(c.cfg.KeepaliveInterval)
		c.startTx(request{kind: txBinding}, 0)
	}
}

// A verification's Refresh schedule, and the longest wait between two
// verifications (verify.go).
const (
	verifyTransmits = 5
	verifyRTOMax    = time.Second
	maxVerifyWait   = 80 * time.Second
)

// verified records what a verification found: alive doubles the wait
// before the next one, gone starts it over.
func (c *Client) verified(alive bool) {
	if alive {
		c.verifyWait = min(2*max(c.verifyWait, c.cfg.VerifyInterval), maxVerifyWait)
	} else {
		c.verifyWait = c.cfg.VerifyInterval
	}
}
