package turn

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// Send wraps payload for peer as Data class: ChannelData once a channel to
// peer is bound, a Send indication while only a permission exists. The
// Transmit goes to the caller's send queue directly, not through
// PollTransmit.
func (c *Client) Send(now time.Time, peer netip.AddrPort, payload []byte) (Transmit, error) {
	return c.AppendSend(nil, now, peer, payload, gso.Data)
}

// AppendSend is Send that appends the frame to dst (so a caller with a
// buffer pool allocates nothing once the channel is bound) and lets the
// caller choose the class: ICE checks through the relay are Control,
// application data is Data. ChannelData is never padded: over UDP the
// datagram length delimits the frame (RFC 8656 section 12.5); over a
// stream transport it is, to a multiple of 4, since there nothing else
// tells the receiver where the next message starts.
func (c *Client) AppendSend(dst []byte, now time.Time, peer netip.AddrPort, payload []byte, class gso.Class) (Transmit, error) {
	c.advance(now)
	switch {
	case c.state.Terminal() || c.state == StateReleasing:
		return Transmit{}, ErrTerminal
	case c.state != StateAllocated:
		return Transmit{}, ErrNotAllocated
	case len(payload) > c.cfg.MaxPayload:
		// The server would drop it silently.
		return Transmit{}, ErrPayloadTooLarge
	}
	peer = stunmsg.Unmap(peer)
	t := Transmit{Src: c.local, Dst: c.server, Class: class, Transport: c.id.Transport}
	if ch := c.peers.byPeer[peer]; ch != nil && ch.bound {
		frame := stunmsg.AppendChannelData
		if c.id.Transport.Stream() {
			frame = stunmsg.AppendChannelDataPadded
		}
		b, err := frame(dst, ch.number, payload)
		if err != nil {
			panic("turn: bound channel cannot frame: " + err.Error())
		}
		t.Payload = b
		c.stats.ChannelDataSent++
		return t, nil
	}
	if c.peers.permByIP[peer.Addr()] == nil {
		return Transmit{}, ErrNoPermission
	}
	t.Payload = append(dst, encodeSendIndication(c.newTxID(), peer, payload)...)
	c.stats.IndicationsSent++
	return t, nil
}

// MaxPayload is the largest payload Send accepts (Config.MaxPayload).
func (c *Client) MaxPayload() int { return c.cfg.MaxPayload }

// HasChannel reports whether Send to peer produces ChannelData now.
func (c *Client) HasChannel(peer netip.AddrPort) bool {
	ch := c.peers.byPeer[stunmsg.Unmap(peer)]
	return ch != nil && ch.bound && c.state == StateAllocated
}

// Permitted reports whether the server confirmed a permission for peer's IP.
func (c *Client) Permitted(peer netip.AddrPort) bool {
	p := c.peers.permByIP[peer.Addr().Unmap()]
	return p != nil && p.installed && c.state == StateAllocated
}
