package node

import (
	"fmt"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// A connection's maximum payload is the largest application payload Send
// accepts for it. It follows the selected path:
//
//   - a direct path carries one UDP datagram: 65507 bytes over IPv4, 65527
//     over IPv6;
//   - a path from our relayed address carries what that relay carries
//     (turn.Config.MaxPayload, per relay with WithMaxPayload), and never
//     more than a UDP datagram toward the server less the relay's header;
//   - a path to the peer's relayed address carries what the peer's relay
//     carries toward the peer. We cannot know the peer's setting, so it is
//     Config.Relay.MaxPayload (turn.DefaultMaxPayload unless set).
//
// The smallest that applies wins. While a connection has no path (before
// Connected, and while it recovers after PathLost) Send buffers, and it
// accepts only what every path the connection could get carries: the
// smallest of the IPv4 UDP limit, Config.Relay.MaxPayload and its own
// relay's limit. So nothing it accepts is dropped later for its size.
// Connected and PathChanged are the cue to read MaxPayload again.

// RelayOption tunes one relay beyond Config.Relay (its timers and
// bounds, cfg) and beyond what AddRelay names (its identity, id).
type RelayOption func(id *turn.Identity, cfg *turn.Config)

// WithMaxPayload sets the largest application payload that this relay
// carries (turn.Config.MaxPayload; 1 to 65535), for a server known to carry
// more or less than turn.DefaultMaxPayload.
func WithMaxPayload(n int) RelayOption {
	return func(_ *turn.Identity, c *turn.Config) { c.MaxPayload = n }
}

// MaxPayload returns the largest payload Send accepts on connection id
// now: that of its selected path, or while it has none the smallest any
// path could carry (see above). It changes with the path; re-read it on
// Connected and PathChanged.
func (n *Node) MaxPayload(id ConnID) (int, error) {
	c, ok := n.conns[id]
	if !ok {
		return 0, ErrUnknownConn
	}
	if c.failed != 0 {
		return 0, ErrConnFailed
	}
	if !c.connected {
		return n.pendingMaxPayload(c), nil
	}
	return n.maxPayload(c), nil
}

// peerRelayMaxPayload is what we assume a peer's relay carries.
func (n *Node) peerRelayMaxPayload() int {
	if m := n.cfg.Relay.MaxPayload; m > 0 {
		return m
	}
	return turn.DefaultMaxPayload
}

// maxPayload is the largest application payload the selected path carries.
func (n *Node) maxPayload(c *conn) int {
	limit := gso.MaxBytesFor(c.path.Dst())
	if r := c.relay; r != nil && r.isBase(c.path.Src()) {
		limit = min(r.client.MaxPayload(), gso.MaxBytesFor(r.server)-relayOverhead)
	}
	if c.path.Remote.Type == stunmsg.Relay {
		limit = min(limit, n.peerRelayMaxPayload())
	}
	return limit
}

// pendingMaxPayload is what Send buffers while c has no path: the least
// any path may carry, so that the flush never drops for size.
func (n *Node) pendingMaxPayload(c *conn) int {
	limit := min(gso.MaxBytesIPv4, n.peerRelayMaxPayload())
	if c.relay != nil {
		limit = min(limit, c.relay.client.MaxPayload())
	}
	return limit
}

// tooLarge is Send's error for a payload over limit.
func tooLarge(size, limit int) error {
	return fmt.Errorf("%w: %d bytes, the connection's path carries at most %d", ErrPayloadTooLarge, size, limit)
}
