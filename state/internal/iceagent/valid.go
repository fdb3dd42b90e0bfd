package iceagent

import (
	"net/netip"
	"slices"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file holds the priority of a pair once its check succeeded: the
// valid pair's (RFC 8445 7.2.5.3.2), computed from our candidate as the
// peer knows it rather than from the base the check left from.
//
// The two sides must rank pairs alike. The controlled side keeps the
// highest-priority nominated pair and takes a nomination of a lower one
// for stale (followsNomination); if it ranks two pairs in the other order
// than the controlling side, it refuses the peer's upgrade, and the two
// sides use different paths until its own path goes silent. That happens
// whenever a side is behind a NAT: a check from a host candidate leaves
// through the NAT, so the peer knows that end of the pair as our
// server-reflexive candidate (signalled) or as a peer-reflexive one
// (learned from the check, with its PRIORITY), never as our host
// candidate. Between two relayed paths, each from one side's host to the
// other's relayed address, each side ranked its own host end above the
// peer's reflexive one and preferred the other path (the simulator found
// it as a connection hopping between the two; tests/sim/testdata/rapid).
//
// The check's answer names the address the peer saw (XOR-MAPPED-ADDRESS).
// Our candidate with that address gives the pair its priority: the base
// itself (no NAT, or a relayed address), or the server-reflexive candidate
// the owner signalled; an address we know no candidate for is
// peer-reflexive, with the priority our checks claim for it (request),
// which is what the peer learned it with. Both sides then compute the same
// RFC 8445 6.1.2.3 priority from the same two candidate priorities.

// AddReflexiveCandidate records a server-reflexive candidate the owner
// signals: it is not paired (its base is), but a check whose answer names
// its address ranks the pair with its priority, as the peer does.
// Candidates beyond MaxLocalCandidates are ignored (ErrTooManyCandidates):
// such a pair then ranks as peer-reflexive until the peer's ranks agree.
func (a *Agent) AddReflexiveCandidate(c stunmsg.Candidate) error {
	if c.Type != stunmsg.ServerReflexive {
		return ErrCandidateType
	}
	if !c.Addr.IsValid() {
		return ice.ErrInvalidCandidate
	}
	for _, r := range a.reflexive {
		if r.Addr == c.Addr {
			return nil
		}
	}
	if len(a.reflexive) >= a.cfg.MaxLocalCandidates {
		return ice.ErrTooManyCandidates
	}
	a.reflexive = append(a.reflexive, c)
	a.reprioritise()
	return nil
}

// Reflexive returns the server-reflexive candidates the owner signalled,
// in the order it did. The slice is a copy.
func (a *Agent) Reflexive() []stunmsg.Candidate { return slices.Clone(a.reflexive) }

// learnMapped records where the peer saw p's successful check come from,
// and ranks p by it.
func (a *Agent) learnMapped(p *pair, mapped netip.AddrPort) {
	mapped = netip.AddrPortFrom(mapped.Addr().Unmap(), mapped.Port())
	if !mapped.IsValid() || mapped == p.mapped {
		return
	}
	p.mapped = mapped
	a.reprioritise()
}

// localPriority is the priority of p's local end as the peer knows it:
// the valid pair's once a check succeeded, the base's until then.
func (a *Agent) localPriority(p *pair) uint32 {
	switch {
	case !p.mapped.IsValid() || p.mapped == p.local.Addr || p.mapped == p.local.Base:
		return p.local.Priority
	}
	for _, r := range a.reflexive {
		if r.Addr == p.mapped {
			return r.Priority
		}
	}
	return reflexivePriority(p.local)
}

// reflexivePriority is the priority local would have as peer reflexive
// (RFC 8445 7.1.1): the same local preference under type prflx. Checks
// claim it in PRIORITY.
func reflexivePriority(local stunmsg.Candidate) uint32 {
	return stunmsg.PeerReflexive.Preference()<<24 | local.Priority&0xFFFFFF
}
