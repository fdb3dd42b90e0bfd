package turn

import (
	"net/netip"

	"github.com/peerlink/peerlink/state/gso"
)

// This file holds the race between a server's two addresses.
//
// A server is often reachable at an IPv4 and an IPv6 address, and which
// of the two works from here is not known in advance: an IPv6 address
// without a route, a firewall that drops one family. With
// Config.Alternate set, the first Binding (and its retransmissions) goes
// to both addresses, each from its own local address, under one
// transaction ID. Whichever answers first, success or error, becomes the
// client's 5-tuple for good: Allocate and everything after go there only,
// and the other address is ignored from then on. A client that is lost
// and started again (node's retry) races again from Config.

// racing reports whether both addresses are still in the race: the
// first Binding has not been answered yet.
func (c *Client) racing() bool {
	return c.id.Alternate.IsValid() && c.state == StateBinding && c.server == c.id.Server
}

// racingFrom reports whether from is the alternate address while racing.
func (c *Client) racingFrom(from netip.AddrPort) bool { return c.racing() && from == c.id.Alternate }

// raceTransmit copies a transmit just queued to the alternate address
// while racing (only Binding is sent then).
func (c *Client) raceTransmit(b []byte) {
	if !c.racing() {
		return
	}
	c.transmits = append(c.transmits, Transmit{Src: c.id.AlternateLocal, Dst: c.id.Alternate,
		Payload: append([]byte(nil), b...), Class: gso.Control})
}

// settleRace ends the race after a datagram from from: once the client
// left StateBinding, the address that answered is the one kept.
func (c *Client) settleRace(from netip.AddrPort) {
	if !c.id.Alternate.IsValid() || c.state == StateBinding || c.server != c.id.Server || from != c.id.Alternate {
		return
	}
	c.server, c.local = c.id.Alternate, c.id.AlternateLocal
	c.stats.AlternateChosen++
	// The Allocate just queued went to the address that lost.
	for i := range c.transmits {
		if c.transmits[i].Dst == c.id.Server {
			c.transmits[i].Src, c.transmits[i].Dst = c.local, c.server
		}
	}
}
