package node

import "github.com/peerlink/peerlink/state/turn"

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
	return func(c *turn.Config) { c.Transport = t }
}
