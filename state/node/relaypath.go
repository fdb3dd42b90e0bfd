package node

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// relayOverhead is the most a relay adds to a payload: a Send indication's
// 20-byte header, XOR-PEER-ADDRESS for IPv6 (24) and the DATA attribute's
// header and padding (4+3). ChannelData adds only 4.
const relayOverhead = 20 + 24 + 7

// relayed reports whether what c sends from src goes through c's relay,
// wrapped by send.
func (c *conn) relayed(src netip.AddrPort) bool {
	r := c.relay
	return r != nil && r.isBase(src)
}

// send puts one datagram of connection c on the wire: directly, or wrapped
// by c's relay client when it leaves from the relayed address (the agent's
// checks through the relay, and data on a relayed path).
func (n *Node) send(c *conn, src, dst netip.AddrPort, b []byte, class gso.Class) {
	if !c.relayed(src) {
		n.transmit(src, dst, b, class)
		return
	}
	r := c.relay
	start := len(n.arena)
	t, err := r.client.AppendSend(n.arena, n.now, dst, b, class)
	if errors.Is(err, turn.ErrNoPermission) {
		// A peer-reflexive remote, learned from a check: ask now; this
		// datagram waits at the server until the permission exists, and the
		// check's retransmission covers the gap.
		n.permit(c, dst)
		t, err = r.client.AppendSend(n.arena, n.now, dst, b, class)
	}
	if err != nil {
		n.relayError(r)
		return
	}
	n.arena = t.Payload
	n.out = append(n.out, Transmit{Src: t.Src, Dst: t.Dst, Payload: t.Payload[start:len(t.Payload):len(t.Payload)], Class: class,
		Transport: t.Transport})
}

// permit asks c's relay for a permission toward addr's IP, once per
// connection and IP while the client keeps it (peerRefused forgets one it
// gave up); the relay keeps it refreshed until no connection needs it.
func (n *Node) permit(c *conn, addr netip.AddrPort) {
	r := c.relay
	if r == nil {
		return
	}
	if _, ok := r.baseFor(addr); !ok {
		return
	}
	ip := addr.Addr().Unmap()
	if slices.Contains(c.permIPs, ip) {
		return
	}
	if err := r.client.CreatePermission(n.now, addr); err != nil {
		n.relayError(r)
		return
	}
	c.permIPs = append(c.permIPs, ip)
	r.perms[ip]++
	n.relayTransmits(r)
	n.reindexRelay(r)
}

// bindChannel binds a channel toward the remote end of c's relayed path, so
// that data costs 4 bytes of header instead of a Send indication's 36+.
func (n *Node) bindChannel(c *conn, path Path) {
	r := c.relay
	if r == nil || !r.isBase(path.Src()) || c.channel == path.Dst() {
		return
	}
	n.releaseChannel(c)
	if err := r.client.BindChannel(n.now, path.Dst()); err != nil {
		n.relayError(r)
		return
	}
	c.channel = path.Dst()
	r.chans[c.channel]++
	n.relayTransmits(r)
	n.reindexRelay(r)
}

func (n *Node) releaseChannel(c *conn) {
	r, ch := c.relay, c.channel
	if r == nil || !ch.IsValid() {
		return
	}
	c.channel = netip.AddrPort{}
	if r.chans[ch]--; r.chans[ch] > 0 {
		return
	}
	delete(r.chans, ch)
	// RemovePeer drops the permission too when no other channel uses the
	// IP; connections that still need it get it back at once.
	r.client.RemovePeer(n.now, ch)
	if r.perms[ch.Addr()] > 0 {
		_ = r.client.CreatePermission(n.now, ch)
	}
}

// releasePeers gives back what connection c asked its relay for, when it
// closes or restarts.
func (n *Node) releasePeers(c *conn) {
	r := c.relay
	if r == nil {
		return
	}
	for _, ip := range c.permIPs {
		if r.perms[ip]--; r.perms[ip] > 0 {
			continue
		}
		delete(r.perms, ip)
		if !n.channelOnIP(r, ip) {
			r.client.RemovePeer(n.now, netip.AddrPortFrom(ip, 0))
		}
	}
	c.permIPs = nil
	n.releaseChannel(c)
	n.relayTransmits(r)
	n.reindexRelay(r)
}

// peerRefused forgets what r's client gave up (EventPeerFailed: the
// server refused a permission or a channel, or never answered for it): the
// client dropped it from its table, so the counts here must drop it too,
// or permit and bindChannel would take it for granted and never ask
// again. That happened after a restart of coturn, which answers a
// permission or channel refresh for an allocation it lost with 400: the
// re-allocation then asked for nothing, and a path between two relayed
// addresses on the server's one IP, whose permission every later check
// counted as held, stayed silent until the connection failed.
func (n *Node) peerRefused(r *relay, e turn.Event) {
	if e.Channel != 0 {
		ch := netip.AddrPortFrom(e.Peer.Addr().Unmap(), e.Peer.Port())
		delete(r.chans, ch)
		n.order.Ascend(func(id ConnID) bool {
			if c := n.conns[id]; c.relay == r && c.channel == ch {
				c.channel = netip.AddrPort{}
			}
			return true
		})
		return
	}
	ip := e.Peer.Addr().Unmap()
	delete(r.perms, ip)
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == r {
			c.permIPs = slices.DeleteFunc(c.permIPs, func(x netip.Addr) bool { return x == ip })
		}
		return true
	})
}

// channelOnIP: some connection keeps a channel to ip on r.
func (n *Node) channelOnIP(r *relay, ip netip.Addr) bool {
	// peerlink:order-independent: only whether one exists comes out.
	for ch := range r.chans {
		if ch.Addr() == ip {
			return true
		}
	}
	return false
}

// handleRelayed takes a datagram from relay r's server. The client
// consumes TURN signalling; what it unwraps (ChannelData or a Data
// indication) came from peer to our relayed address, and is demultiplexed
// as a peer's datagram: STUN is a check through the relay, everything else
// application data.
func (n *Node) handleRelayed(now time.Time, r *relay, remote netip.AddrPort, b []byte) (ConnID, []byte, bool) {
	_, peer, payload := r.client.HandleDatagram(now, remote, b)
	var id ConnID
	ok := false
	relayed, has := r.baseFor(peer)
	if payload != nil && has {
		if stunmsg.IsSTUN(payload) {
			n.handleSTUN(now, relayed, stunmsg.Unmap(peer), payload)
		} else {
			// Unwrapped, it came from the peer: first byte 64-79 is the
			// application's here, not ChannelData.
			id, payload, ok = n.appData(now, relayed, stunmsg.Unmap(peer), payload)
		}
	}
	n.drainRelay(r)
	return id, payload, ok
}
