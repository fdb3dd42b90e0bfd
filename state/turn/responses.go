package turn

import (
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// onSuccess acts on a verified success response. It returns a drop reason
// (and leaves the request in flight, to be retransmitted) when the
// response lacks what it must carry.
func (c *Client) onSuccess(tx *transaction, m *stun.Message) DropReason {
	switch tx.req.kind {
	case txBinding:
		mapped, err := stunmsg.MappedAddress(m)
		if err != nil {
			return DropMalformed
		}
		c.removeTx(tx)
		c.setReflexive(mapped)
		if c.state == StateBinding {
			c.startAllocate()
		}
	case txAllocate:
		relayed, relayed2, err := relayedAddresses(m)
		granted, ok := lifetime(m)
		if err != nil || !ok || granted == 0 {
			return DropMalformed
		}
		c.removeTx(tx)
		if mapped, err := stunmsg.MappedAddress(m); err == nil {
			c.setReflexive(mapped)
		}
		g := grant{relayed: relayed, relayed2: relayed2, lifetime: granted, familyCode: addressError(m)}
		if tx.req.probe && c.state == StateAllocated {
			c.replaced(g)
			break
		}
		c.allocated(g)
	case txRefresh:
		c.removeTx(tx)
		c.onRefreshAnswered(tx, m, 0)
	case txPermission:
		c.removeTx(tx)
		c.held()
		c.permitted(tx)
	case txChannel:
		c.removeTx(tx)
		c.held()
		c.channelBound(tx)
	}
	return dropNone
}

// onError acts on an error response (integrity already checked where the
// response carried it).
func (c *Client) onError(tx *transaction, m *stun.Message, code int, signed bool) DropReason {
	if tx.req.kind == txBinding {
		// A server that refuses Binding still answered: it is alive, and
		// Allocate's response carries the reflexive address too.
		c.removeTx(tx)
		if c.state == StateBinding {
			c.startAllocate()
		}
		return dropNone
	}
	switch code {
	case CodeUnauthorized:
		return c.onUnauthorized(tx, m)
	case CodeStaleNonce:
		return c.onStaleNonce(tx, m)
	}
	c.removeTx(tx)
	// pion/turn answers a request with wrong credentials with an unsigned
	// 400; a well-formed request of ours earns 400 for no other reason.
	authFailed := code == CodeBadRequest && tx.key != nil && !signed &&
		(tx.req.kind == txAllocate || tx.req.kind == txRefresh)
	switch {
	case tx.req.kind == txRefresh:
		c.onRefreshAnswered(tx, m, code)
	case authFailed:
		c.lose(LostAuth, code)
	case tx.req.probe && c.state == StateAllocated:
		c.probeAnswered(code)
	case code == CodeAllocationMismatch && tx.req.kind == txAllocate:
		c.deleteStale(code)
	case code == CodeFamilyNotSupported && tx.req.kind == txAllocate:
		c.onFamilyRefused(code)
	case code == CodeAllocationMismatch:
		c.reallocate(code)
	case tx.req.kind == txAllocate:
		c.lose(LostRejected, code)
	default:
		c.peerFailed(tx, code)
	}
	return dropNone
}

// onUnauthorized: the first 401 is the server's challenge and brings REALM
// and NONCE; a 401 to a request that carried credentials means they are
// wrong, which no retry can fix.
func (c *Client) onUnauthorized(tx *transaction, m *stun.Message) DropReason {
	if tx.key != nil {
		c.removeTx(tx)
		if c.state == StateReleasing {
			c.finish(StateClosed, Event{Kind: EventClosed})
			return dropNone
		}
		c.lose(LostAuth, CodeUnauthorized)
		return dropNone
	}
	realm, okRealm := text(m, stun.AttrRealm)
	nonce, okNonce := text(m, stun.AttrNonce)
	if !okRealm || !okNonce {
		return DropMalformed
	}
	c.removeTx(tx)
	c.cred.realm, c.cred.nonce = realm, nonce
	c.cred.key = stun.NewLongTermIntegrity(c.id.Username, realm, c.id.Password)
	c.startTx(tx.req, 0)
	return dropNone
}

// onStaleNonce retries with the new nonce, a bounded number of times in a
// row.
func (c *Client) onStaleNonce(tx *transaction, m *stun.Message) DropReason {
	nonce, ok := text(m, stun.AttrNonce)
	if !ok {
		return DropMalformed
	}
	c.removeTx(tx)
	c.stats.StaleNonces++
	c.cred.nonce = nonce
	if realm, ok := text(m, stun.AttrRealm); ok && realm != c.cred.realm {
		c.cred.realm = realm
		c.cred.key = stun.NewLongTermIntegrity(c.id.Username, realm, c.id.Password)
	}
	if tx.staleRetries+1 > c.cfg.MaxRetries {
		switch tx.req.kind {
		case txPermission, txChannel:
			c.peerFailed(tx, CodeStaleNonce)
		default:
			if c.state == StateReleasing {
				c.finish(StateClosed, Event{Kind: EventClosed})
			} else {
				c.lose(LostRetries, CodeStaleNonce)
			}
		}
		return dropNone
	}
	if tx.req.probe {
		// The server did not look at the probe: the same ID is still the
		// one that may own the allocation (realloc.go).
		c.startTxID(tx.req, tx.id, tx.staleRetries+1)
		return dropNone
	}
	c.startTx(tx.req, tx.staleRetries+1)
	return dropNone
}

// onRefreshAnswered handles every answer to a Refresh but 401 and 438; code
// is 0 for success. What a Refresh meant depends on the state: a release,
// the deletion of a stale allocation before allocating, or a refresh.
func (c *Client) onRefreshAnswered(tx *transaction, m *stun.Message, code int) {
	switch {
	case c.state == StateReleasing:
		c.finish(StateClosed, Event{Kind: EventClosed})
	case c.state == StateAllocating:
		c.allocateAgain()
	case code == 0:
		if granted, ok := lifetime(m); ok && granted > 0 {
			c.granted = granted
		}
		c.held()
		if tx.req.verify {
			c.verified(true)
		}
		c.reallocs = 0
		c.stats.Refreshes++
		c.refreshAt = c.now.Add(c.refreshPeriod())
	case code == CodeAllocationMismatch:
		if tx.req.verify {
			c.verified(false)
		}
		c.reallocate(code)
	case code == CodeBadRequest && tx.key != nil && !m.Contains(stun.AttrMessageIntegrity):
		c.lose(LostAuth, code)
	default:
		c.lose(LostRejected, code)
	}
}

// onTimeout handles a request that exhausted its retransmissions. If the
// server answered anything since the request first went out, it is alive
// and only this request is hopeless; otherwise the relay is lost. Silence
// alone never ends an allocation the server answers for: only a 437, an
// error, or a probe's grant does (realloc.go).
func (c *Client) onTimeout(tx *transaction) {
	alive := c.answers > tx.answersAtStart
	switch tx.req.kind {
	case txBinding:
		if c.state == StateBinding || !alive {
			c.lose(LostTimeout, 0)
		}
	case txAllocate:
		if tx.req.probe && c.state == StateAllocated {
			// Lost both ways as often as the Refresh beside it: no word
			// on the allocation yet. The keepalive decides about the
			// server; the next probe goes with this one's ID.
			c.stats.ProbesUnanswered++
			c.lostProbe, c.lostProbeSet = tx.id, true
			return
		}
		c.lose(LostTimeout, 0)
	case txRefresh:
		c.refreshTimedOut(tx, alive)
	case txPermission, txChannel:
		if !alive {
			c.lose(LostTimeout, 0)
			return
		}
		c.peerFailed(tx, 0)
	}
}

// refreshTimedOut: a Refresh went unanswered through its whole schedule.
func (c *Client) refreshTimedOut(tx *transaction, alive bool) {
	switch {
	case c.state == StateReleasing:
		c.finish(StateClosed, Event{Kind: EventClosed})
	case c.state == StateAllocating && alive:
		c.allocateAgain()
	case c.state == StateAllocating:
		c.lose(LostTimeout, 0)
	case tx.req.verify && !alive:
		// A short schedule unanswered by a silent server proves
		// nothing; the keepalive's full one decides.
		c.stats.VerificationsInconclusive++
	case alive:
		// The server answers, but not this Refresh. pion/turn never
		// answers a Refresh for an allocation it no longer has; ordinary
		// loss can drop every answer too. Unless the allocation answered
		// for itself meanwhile (a probe's 437, a permission), a probe
		// tells the two apart (realloc.go).
		// A scheduled Refresh goes again as soon as no probe is out: the
		// allocation's lifetime runs on.
		if c.heldAt.Before(tx.started) {
			c.probe()
		} else if tx.req.verify {
			c.verified(true)
		}
	default:
		c.lose(LostTimeout, 0)
	}
}

func (c *Client) startAllocate() {
	c.state = StateAllocating
	c.startTx(request{kind: txAllocate, lifetime: c.cfg.Lifetime, family: c.family}, 0)
}

// grant is what a success answer to Allocate gives.
type grant struct {
	relayed, relayed2 netip.AddrPort
	lifetime          time.Duration
	// familyCode is ADDRESS-ERROR-CODE's code, 0 if none.
	familyCode int
}

func (c *Client) allocated(g grant) {
	c.state = StateAllocated
	c.mismatches, c.allocateAt, c.heldAt = 0, time.Time{}, c.now
	c.lostProbeSet = false
	c.relayed, c.relayed2 = g.relayed, g.relayed2
	c.granted = g.lifetime
	c.refreshAt = c.now.Add(c.refreshPeriod())
	c.keepaliveAt = c.now.Add(c.cfg.KeepaliveInterval)
	c.emit(Event{Kind: EventAllocated, Relayed: g.relayed, Additional: g.relayed2, Reflexive: c.reflexive,
		Lifetime: g.lifetime, Code: g.familyCode})
	c.dropMismatched()
	c.requestAll()
}

// refreshPeriod is half the granted lifetime, capped by RefreshAfter.
func (c *Client) refreshPeriod() time.Duration { return min(c.granted/2, c.cfg.RefreshAfter) }

func (c *Client) setReflexive(a netip.AddrPort) {
	if a != c.reflexive {
		c.reflexive = a
		c.emit(Event{Kind: EventReflexive, Reflexive: a})
	}
}

func (c *Client) permitted(tx *transaction) {
	p := c.peers.permByIP[tx.req.peer.Addr()]
	if p == nil {
		return // removed while the request was in flight
	}
	first := !p.installed
	p.installed = true
	// Lifetimes count from the request, the latest the server can have
	// started them.
	p.installedAt = tx.started
	p.refreshAt = tx.started.Add(c.peerRefresh(c.cfg.PermissionRefreshAfter))
	p.expiresAt = tx.started.Add(c.cfg.PermissionLifetime)
	if first {
		c.emit(Event{Kind: EventPermitted, Peer: tx.req.peer})
	} else {
		c.stats.PermissionRefreshes++
	}
}

func (c *Client) channelBound(tx *transaction) {
	ch := c.peers.byPeer[tx.req.peer]
	if ch == nil || ch.number != tx.req.channel {
		return
	}
	first := !ch.bound
	ch.bound, ch.everBound = true, true
	ch.refreshAt = tx.started.Add(c.peerRefresh(c.cfg.ChannelRefreshAfter))
	ch.expiresAt = tx.started.Add(c.cfg.ChannelLifetime)
	if first {
		c.emit(Event{Kind: EventChannelBound, Peer: ch.peer, Channel: ch.number})
	} else {
		c.stats.ChannelRefreshes++
	}
}

// peerFailed gives up a permission or channel the server refused or never
// confirmed; the relay itself stays.
func (c *Client) peerFailed(tx *transaction, code int) {
	switch tx.req.kind {
	case txPermission:
		if p := c.peers.permByIP[tx.req.peer.Addr()]; p != nil {
			c.dropPermission(p)
		}
	case txChannel:
		if ch := c.peers.byPeer[tx.req.peer]; ch != nil && ch.number == tx.req.channel {
			c.dropChannel(ch)
		}
	}
	c.emit(Event{Kind: EventPeerFailed, Peer: tx.req.peer, Channel: tx.req.channel, Code: code})
}
