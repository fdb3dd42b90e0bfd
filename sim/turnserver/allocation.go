package turnserver

import (
	"net/netip"
	"slices"
	"time"
)

// fiveTuple identifies an allocation: the client's address and the server
// address it talks to (the transport is always UDP here).
type fiveTuple struct {
	client, server netip.AddrPort
}

type permission struct {
	peer    netip.Addr // permissions ignore the peer's port (RFC 8656 section 9)
	expires time.Time
}

type channel struct {
	number  uint16
	peer    netip.AddrPort
	expires time.Time
}

// allocation is one relayed transport address and its tables. The tables
// are small bounded slices: linear search is fast at these sizes and their
// order is deterministic.
type allocation struct {
	tuple    fiveTuple
	relayed  netip.AddrPort
	username string
	key      []byte
	expires  time.Time
	perms    []permission
	channels []channel
	// The Allocate transaction and its success response, resent verbatim
	// when a retransmission of that request arrives (RFC 8656 section 7.2).
	allocTx   [12]byte
	allocResp []byte
}

func (a *allocation) permitted(peer netip.Addr, now time.Time) bool {
	for _, p := range a.perms {
		if p.peer == peer && now.Before(p.expires) {
			return true
		}
	}
	return false
}

// permit installs or refreshes a permission; false if the table is full.
func (a *allocation) permit(peer netip.Addr, now time.Time, lifetime time.Duration, limit int) bool {
	for i := range a.perms {
		if a.perms[i].peer == peer {
			a.perms[i].expires = now.Add(lifetime)
			return true
		}
	}
	if len(a.perms) >= limit {
		return false
	}
	a.perms = append(a.perms, permission{peer: peer, expires: now.Add(lifetime)})
	return true
}

func (a *allocation) channelByNumber(n uint16, now time.Time) *channel {
	for i := range a.channels {
		if c := &a.channels[i]; c.number == n && now.Before(c.expires) {
			return c
		}
	}
	return nil
}

func (a *allocation) channelByPeer(peer netip.AddrPort, now time.Time) *channel {
	for i := range a.channels {
		if c := &a.channels[i]; c.peer == peer && now.Before(c.expires) {
			return c
		}
	}
	return nil
}

// expire drops permissions and channels whose time is up.
func (a *allocation) expire(now time.Time) {
	a.perms = slices.DeleteFunc(a.perms, func(p permission) bool { return !now.Before(p.expires) })
	a.channels = slices.DeleteFunc(a.channels, func(c channel) bool { return !now.Before(c.expires) })
}

// next is the earliest instant something in the allocation expires.
func (a *allocation) next() time.Time {
	t := a.expires
	for _, p := range a.perms {
		if p.expires.Before(t) {
			t = p.expires
		}
	}
	for _, c := range a.channels {
		if c.expires.Before(t) {
			t = c.expires
		}
	}
	return t
}
