package stunmsg

import "net/netip"

// Unmap returns a with an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a
// dual-stack socket reports IPv4 peers) turned into plain IPv4, so that one
// peer has one address whichever socket saw it.
func Unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// SameLocal compares the local address a datagram arrived on with the one
// something was sent from. A driver without PKTINFO reports the socket's
// wildcard (or no) address; the port still identifies the socket.
func SameLocal(got, want netip.AddrPort) bool {
	if got == want {
		return true
	}
	return got.Port() == want.Port() && (!got.Addr().IsValid() || got.Addr().IsUnspecified())
}
