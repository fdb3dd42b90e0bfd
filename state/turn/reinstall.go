package turn

import (
	"net/netip"
	"time"
)

// Servers do not announce how long a permission or a channel lasts, and
// operators shorten both (coturn's --permission-lifetime and
// --channel-lifetime; 60 s and 90 s are seen in deployments). The client
// refreshes at RFC 8656's fixed 300 s and 600 s, so on such a server a
// permission expires while the client still counts it installed: the
// server drops everything the peer sends, and a connection through it
// goes silent while the allocation itself is fine. The owner that sees a
// path through the relay go silent calls Reinstall beside Verify; the
// permission and channel come back within a round trip, and the path's
// next probe is answered.

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
