package turn

import (
	"net/netip"
	"time"
)

// Servers do not announce how long a permission or a channel lasts, and
// operators shorten both (coturn's --permission-lifetime and
// --channel-lifetime; 60 s and 90 s are seen in deployments). The client
// refreshes within RFC 8656's fixed lifetimes (Config.PermissionLifetime,
// Config.ChannelLifetime), so on such a server a
// permission expires while the client still counts it installed: the
// server drops everything the peer sends, and a connection through it
// goes silent while the allocation itself is fine. The owner that sees a
// path through the relay go silent calls Reinstall beside Verify; the
// permission and channel come back within a round trip, and the path's
// next probe is answered.
//
// The client then learns. A permission whose paths went silent twice in a
// row at like ages since it was installed (within a quarter of each other)
// meets a lifetime about that long: every permission and channel is then
// refreshed after half the shorter age, so the third expiry never comes.
// Silence from other causes (loss, a peer gone) strikes at random ages and
// rarely twice alike; even then, refreshes come at most every
// minLearnedRefresh.

// Reinstall asks the server again, now, for the permission toward peer's
// IP and the channel bound to peer, as refreshes: a path to peer through
// this relay went silent. It reports whether it sent anything: not without
// an allocation, for a peer the client was never asked to reach, while
// those requests are in flight, or within Config.VerifyInterval of the
// last Reinstall toward that IP.
func (c *Client) Reinstall(now time.Time, peer netip.AddrPort) bool {
	c.advance(now)
	if c.state != StateAllocated || !peer.IsValid() {
		return false
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	p := c.peers.permByIP[peer.Addr()]
	if p == nil || !p.installed {
		return false // never asked for, or its first request is in flight
	}
	if !p.reinstalledAt.IsZero() && c.now.Before(p.reinstalledAt.Add(c.cfg.VerifyInterval)) {
		return false
	}
	c.learnLifetime(p, c.now.Sub(p.installedAt))
	sent := false
	permKey := netip.AddrPortFrom(p.ip, 0)
	if c.pending(txPermission, permKey) == nil {
		c.startTx(request{kind: txPermission, peer: permKey}, 0)
		sent = true
	}
	if ch := c.peers.byPeer[peer]; ch != nil && ch.bound && c.pending(txChannel, peer) == nil {
		c.startTx(request{kind: txChannel, peer: peer, channel: ch.number}, 0)
		sent = true
	}
	if sent {
		p.reinstalledAt = c.now
		c.stats.Reinstalls++
	}
	return sent
}

// minLearnedRefresh is the shortest refresh period learning sets: a
// minute is the shortest lifetime seen deployed, and silence at like ages
// by chance must not make refreshes chatty.
const minLearnedRefresh = 30 * time.Second

// learnLifetime takes the age of permission p when a path through it went
// silent, and shortens the refresh periods when the silence before came at
// a like age.
func (c *Client) learnLifetime(p *permission, age time.Duration) {
	prev := p.silentAge
	p.silentAge = age
	if prev <= 0 || age <= 0 || 4*age < 3*prev || 4*prev < 3*age {
		return
	}
	period := max(min(age, prev)/2, minLearnedRefresh)
	if period >= c.peerRefresh(max(c.cfg.PermissionRefreshAfter, c.cfg.ChannelRefreshAfter)) {
		return
	}
	c.learnedRefresh = period
	c.stats.RefreshLearned++
	for _, q := range c.peers.perms {
		if q.installed {
			q.refreshAt = minTime(q.refreshAt, q.installedAt.Add(period))
		}
	}
	for _, ch := range c.peers.chans {
		if ch.bound {
			ch.refreshAt = minTime(ch.refreshAt, ch.expiresAt.Add(-c.cfg.ChannelLifetime).Add(period))
		}
	}
}

// peerRefresh is a permission's or channel's refresh period: the
// configured one, or the learned one when shorter.
func (c *Client) peerRefresh(configured time.Duration) time.Duration {
	if c.learnedRefresh > 0 {
		return min(configured, c.learnedRefresh)
	}
	return configured
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
