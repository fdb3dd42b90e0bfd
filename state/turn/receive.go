package turn

import (
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// HandleDatagram takes a datagram received from `from`. handled is false
// when it did not come from this client's server (offer it elsewhere).
// When it carries relayed application data (ChannelData or a Data
// indication), payload is that data and peer the address it came from on
// the relay's far side; payload aliases b. Anything else from the server is
// consumed: a response advances the client, and malformed or foreign input
// is dropped and counted (Stats.Drops).
func (c *Client) HandleDatagram(now time.Time, from netip.AddrPort, b []byte) (handled bool, peer netip.AddrPort, payload []byte) {
	from = stunmsg.Unmap(from)
	if from != c.server && !c.racingFrom(from) {
		return false, netip.AddrPort{}, nil
	}
	defer c.settleRace(from)
	c.advance(now)
	if c.state.Terminal() {
		c.drop(DropTerminal)
		return true, netip.AddrPort{}, nil
	}
	switch stunmsg.ClassifyFromServer(b) {
	case stunmsg.ServerChannelData:
		peer, payload = c.receiveChannelData(b)
	case stunmsg.ServerSTUN:
		peer, payload = c.receiveSTUN(b)
	default:
		c.drop(DropNotTURN)
	}
	return true, peer, payload
}

func (c *Client) drop(r DropReason) { c.stats.Drops[r]++ }

func (c *Client) receiveChannelData(b []byte) (netip.AddrPort, []byte) {
	number, payload, err := stunmsg.DecodeChannelData(b)
	if err != nil {
		c.drop(DropMalformed)
		return netip.AddrPort{}, nil
	}
	// A channel whose bind is still unconfirmed counts: the server sends
	// ChannelData only once it has bound the number, possibly before its
	// answer reaches us.
	ch := c.peers.byNumber[number]
	if ch == nil || c.state != StateAllocated {
		c.drop(DropUnknownChannel)
		return netip.AddrPort{}, nil
	}
	c.stats.ChannelDataReceived++
	return ch.peer, payload
}

func (c *Client) receiveSTUN(b []byte) (netip.AddrPort, []byte) {
	class, method, id := peekHeader(b)
	switch class {
	case stun.ClassIndication:
		if method == stun.MethodData {
			return c.receiveDataIndication(b)
		}
		c.drop(DropUnexpected)
	case stun.ClassRequest:
		c.drop(DropUnexpected)
	default:
		c.receiveResponse(b, class == stun.ClassSuccessResponse, method, id)
	}
	return netip.AddrPort{}, nil
}

// receiveDataIndication decodes in place (no copy), so that the payload it
// returns aliases b like ChannelData's does.
func (c *Client) receiveDataIndication(b []byte) (netip.AddrPort, []byte) {
	m := stun.Message{Raw: b}
	if m.Decode() != nil || int(m.Length)+stunmsg.HeaderSize != len(b) {
		c.drop(DropMalformed)
		return netip.AddrPort{}, nil
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(&m) != nil {
		c.drop(DropMalformed)
		return netip.AddrPort{}, nil
	}
	peer, err := xorAddress(&m, stun.AttrXORPeerAddress)
	data, errData := m.Get(stun.AttrData)
	if err != nil || errData != nil {
		c.drop(DropMalformed)
		return netip.AddrPort{}, nil
	}
	if c.state != StateAllocated || c.peers.permByIP[peer.Addr()] == nil {
		c.drop(DropNoPermission)
		return netip.AddrPort{}, nil
	}
	c.stats.IndicationsReceived++
	return peer, data
}

// receiveResponse matches a response to its request before anything else:
// an unknown transaction ID costs no decoding beyond the header and no
// HMAC. A known one is decoded and its integrity verified with the key
// the request was signed with.
func (c *Client) receiveResponse(b []byte, success bool, method stun.Method, id stunmsg.TxID) {
	tx := c.findTx(id)
	if tx == nil || tx.req.kind.messageType().Method != method {
		c.drop(DropUnknownTransaction)
		return
	}
	var m stun.Message
	if stunmsg.Decode(b, &m) != nil {
		c.drop(DropMalformed)
		return
	}
	signed := m.Contains(stun.AttrMessageIntegrity)
	if tx.key != nil && (signed && tx.key.Check(&m) != nil || success && !signed) {
		c.drop(DropIntegrity)
		return
	}
	// Counted before the handler runs: requests it starts (permissions
	// after an Allocate, a retry after 438) must not take this answer for
	// a sign of life after they left.
	c.answers++
	if success {
		if r := c.onSuccess(tx, &m); r != dropNone {
			c.answers--
			c.drop(r)
			return
		}
		c.heard(tx)
		return
	}
	code := errorCode(&m)
	if code == 0 {
		c.answers--
		c.drop(DropMalformed)
		return
	}
	if !signed {
		c.stats.UnsignedErrors++
	}
	if r := c.onError(tx, &m, code, signed); r != dropNone {
		c.answers--
		c.drop(r)
		return
	}
	c.heard(tx)
}

// dropNone is the "accepted" result of a response handler.
const dropNone DropReason = 255

// heard records a valid answer to tx: the server is alive, and an answer
// to a request sent once is a round-trip sample.
func (c *Client) heard(tx *transaction) {
	c.lastHeard = c.now
	if tx.sends == 1 {
		c.sampleRTT(c.now.Sub(tx.started))
	}
}

// sampleRTT folds one round trip into srtt with RFC 6298's gain of 1/8.
// A sample of zero (an answer within the same instant) counts as 1 µs, so
// that a measured RTT is never mistaken for none.
func (c *Client) sampleRTT(rtt time.Duration) {
	rtt = max(rtt, time.Microsecond)
	if c.srtt == 0 {
		c.srtt = rtt
		return
	}
	c.srtt += (rtt - c.srtt) / 8
}
