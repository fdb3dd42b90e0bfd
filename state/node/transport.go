package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// WithTransport makes AddRelay reach the server over t: UDP (the
// default), TCP or TLS (RFC 8656 section 3.1), for networks that block
// UDP. The relayed leg, from the server to peers, stays UDP, so the peer
// needs nothing special. The Node only marks the relay's transmits with t
// (Transmit.Transport) and pads ChannelData for the stream; the driver
// dials the stream to the server, does TLS with the configuration the
// application chose, re-dials it when it breaks, and hands back what the
// server sends as datagrams from the server's address on the relay's
// local address. The server-reflexive address a stream relay reports is
// the stream's, not the UDP socket's, so it is no candidate. One relay per
// server address: a UDP and a TCP relay on the same address:port are the
// same relay (ErrRelayExists).
func WithTransport(t Transport) RelayOption {
	return func(id *turn.Identity, _ *turn.Config) { id.Transport = t }
}

// RelayStreamReset tells the Node that the driver's stream to the relay on
// server broke and a new one is up. A server ties an allocation to the
// stream it was made on (RFC 8656 section 3.1), so the old one is gone
// with it: the Node verifies the allocation at once (a Refresh, which the
// server answers with 437, and the client allocates afresh) instead of
// waiting for a path through it to go silent. Unlike the verification
// under a silent path, this one is not rate-limited
// (turn.Client.StreamReset): a reset shortly after an earlier
// verification is a new loss, not the same silence asked about again. It
// does nothing for a relay over UDP or without an allocation, and returns
// ErrUnknownRelay for an unknown one.
func (n *Node) RelayStreamReset(now time.Time, server netip.AddrPort) error {
	now = n.clock(now)
	r := n.relayByServer(stunmsg.Unmap(server))
	if r == nil {
		return ErrUnknownRelay
	}
	if r.client.State() == turn.StateAllocated && r.client.StreamReset(now) {
		n.drainRelay(r)
	}
	return nil
}
