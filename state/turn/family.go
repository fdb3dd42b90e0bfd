package turn

import (
	"net/netip"

	"github.com/pion/stun/v2"
)

// This file holds the address families of an allocation (RFC 8656
// sections 7.1, 7.2 and 18.10-18.12).
//
// A server allocates an IPv4 relayed address unless asked otherwise.
// REQUESTED-ADDRESS-FAMILY asks for one family, ADDITIONAL-ADDRESS-FAMILY
// (whose value is always IPv6) for an IPv4 and an IPv6 address at once;
// a request carries at most one of the two. A dual-stack grant carries one
// XOR-RELAYED-ADDRESS per family, or one and ADDRESS-ERROR-CODE naming the
// family the server could not give. A server that allocates neither
// family asked for answers 440. Permissions, channels and Send are per
// family: a peer of a family the allocation lacks earns 443, which the
// client spares the server by refusing it first (ErrInvalidPeer).

// Family says which relayed address families Config asks the server for.
type Family uint8

const (
	// FamilyDefault asks for none: the server allocates its default,
	// IPv4 by RFC 8656 (pion/turn v5 gives the family the request came
	// over). The request is byte for byte what it was before families.
	FamilyDefault Family = iota
	// FamilyIPv4 asks for an IPv4 relayed address only.
	FamilyIPv4
	// FamilyIPv6 asks for an IPv6 relayed address only.
	FamilyIPv6
	// FamilyDual asks for one relayed address of each family. A server
	// that answers 440 is asked again with FamilyDefault
	// (Stats.FamilyFallbacks); one that grants only IPv4 says why in
	// ADDRESS-ERROR-CODE, which EventAllocated.Code carries.
	FamilyDual
)

var familyNames = [...]string{"default", "ipv4", "ipv6", "dual"}

func (f Family) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return "invalid"
}

// Wire values and attribute types RFC 8656 adds (pion/stun v2 names only
// REQUESTED-ADDRESS-FAMILY).
const (
	wireIPv4 = 0x01
	wireIPv6 = 0x02
	// attrAdditionalFamily and attrAddressError are comprehension-optional
	// (0x8000 and up), so a server that predates them allocates IPv4 as
	// if they were absent.
	attrAdditionalFamily stun.AttrType = 0x8000
	attrAddressError     stun.AttrType = 0x8001
	// coturn (4.6 at least) knows these two only by the code points of the
	// draft before RFC 8656 (its "SSODA" attributes): a dual-stack
	// Allocate carries both codes, each server reads the one it knows and
	// ignores the other (comprehension-optional), and a grant's error is
	// read under either.
	attrAdditionalFamilyDraft stun.AttrType = 0x8032
	attrAddressErrorDraft     stun.AttrType = 0x8033
)

// STUN error codes of RFC 8656 about families.
const (
	// CodeFamilyNotSupported: the server gives no relayed address of the
	// family asked for (440).
	CodeFamilyNotSupported = 440
	// CodePeerFamilyMismatch: a peer of a family the allocation has no
	// relayed address of (443).
	CodePeerFamilyMismatch = 443
)

// addFamily writes what f asks for into an Allocate.
func addFamily(m *stun.Message, f Family) {
	switch f {
	case FamilyIPv4:
		m.Add(stun.AttrRequestedAddressFamily, []byte{wireIPv4, 0, 0, 0})
	case FamilyIPv6:
		m.Add(stun.AttrRequestedAddressFamily, []byte{wireIPv6, 0, 0, 0})
	case FamilyDual:
		m.Add(attrAdditionalFamily, []byte{wireIPv6, 0, 0, 0})
		m.Add(attrAdditionalFamilyDraft, []byte{wireIPv6, 0, 0, 0})
	}
}

// relayedAddresses reads every XOR-RELAYED-ADDRESS of a grant: first is
// the first one, second the first of the other family (zero when none).
// A second address of first's family is ignored.
func relayedAddresses(m *stun.Message) (first, second netip.AddrPort, err error) {
	for _, a := range m.Attributes {
		if a.Type != stun.AttrXORRelayedAddress {
			continue
		}
		// pion decodes the first attribute of a type; one at a time
		// through a message that holds only this one.
		one := stun.Message{TransactionID: m.TransactionID, Attributes: stun.Attributes{a}}
		addr, err := xorAddress(&one, stun.AttrXORRelayedAddress)
		if err != nil {
			return netip.AddrPort{}, netip.AddrPort{}, err
		}
		switch {
		case !first.IsValid():
			first = addr
		case !second.IsValid() && addr.Addr().Is4() != first.Addr().Is4():
			second = addr
		}
	}
	if !first.IsValid() {
		return netip.AddrPort{}, netip.AddrPort{}, errMalformed
	}
	return first, second, nil
}

// addressError reads ADDRESS-ERROR-CODE: the code (300-699) the server
// gave for the family it did not allocate, or 0.
func addressError(m *stun.Message) int {
	v, err := m.Get(attrAddressError)
	if err != nil {
		v, err = m.Get(attrAddressErrorDraft)
	}
	if err != nil || len(v) < 4 {
		return 0
	}
	code := int(v[2]&0x7)*100 + int(v[3])
	if code < 300 || code > 699 || v[3] > 99 {
		return 0
	}
	return code
}

// familyAllowed reports whether the client may ask for a permission or
// channel toward ip: allocated, the allocation has a relayed address of
// ip's family; not yet, the family asked for includes it.
func (c *Client) familyAllowed(ip netip.Addr) bool {
	if c.relayed.IsValid() {
		return c.relayed.Addr().Is4() == ip.Is4() || c.relayed2.IsValid() && c.relayed2.Addr().Is4() == ip.Is4()
	}
	switch c.family {
	case FamilyIPv6:
		return ip.Is6()
	case FamilyDual:
		return true
	}
	return ip.Is4()
}

// onFamilyRefused handles 440 to Allocate: a dual-stack request falls back
// to the server's default family once; a single family the server lacks
// is a refusal no retry changes.
func (c *Client) onFamilyRefused(code int) {
	if c.family == FamilyDual {
		c.family = FamilyDefault
		c.stats.FamilyFallbacks++
		c.startAllocate()
		return
	}
	c.lose(LostRejected, code)
}

// dropMismatched gives up, with EventPeerFailed{Code: 443}, every
// permission and channel asked for before the grant whose family the
// grant lacks: the server would refuse each.
func (c *Client) dropMismatched() {
	for i := 0; i < len(c.peers.chans); {
		ch := c.peers.chans[i]
		if c.familyAllowed(ch.peer.Addr()) {
			i++
			continue
		}
		c.dropChannel(ch)
		c.emit(Event{Kind: EventPeerFailed, Peer: ch.peer, Channel: ch.number, Code: CodePeerFamilyMismatch})
	}
	for i := 0; i < len(c.peers.perms); {
		p := c.peers.perms[i]
		if c.familyAllowed(p.ip) {
			i++
			continue
		}
		c.dropPermission(p)
		c.emit(Event{Kind: EventPeerFailed, Peer: netip.AddrPortFrom(p.ip, 0), Code: CodePeerFamilyMismatch})
	}
}

// Additional returns the second relayed address of a dual-stack
// allocation (the family other than Relayed's) while allocated.
func (c *Client) Additional() (netip.AddrPort, bool) {
	return c.relayed2, c.state == StateAllocated && c.relayed2.IsValid()
}

// Family returns the families the client asks for now: Config.Family,
// or FamilyDefault after a dual-stack request met 440.
func (c *Client) Family() Family { return c.family }
