package iceagent

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// pairState follows RFC 8445 section 6.1.2.6 without Frozen: peerlink runs
// one data stream with one component, where unfreezing by foundation buys
// nothing, so every new pair starts Waiting.
type pairState uint8

const (
	waiting pairState = iota
	inProgress
	succeeded
	failedState
)

var pairStateNames = [...]string{"waiting", "in-progress", "succeeded", "failed"}

func (s pairState) String() string { return pairStateNames[s] }

type pair struct {
	local, remote stunmsg.Candidate
	prio          uint64
	seq           uint64 // creation order, breaks priority ties
	state         pairState
	succeededAt   time.Time
	// useCandidate: the controlling agent's next check on this pair
	// nominates it.
	useCandidate bool
	// nominateOnSuccess: the controlled agent got USE-CANDIDATE before its
	// own check of the pair succeeded; select the pair when it does.
	nominateOnSuccess bool
	// peerHeardAt: the peer's last authenticated request on this pair (a
	// check or a probe); the controlled side keeps checking a pair the
	// peer nominated while these come (late.go).
	peerHeardAt time.Time
	// peerSince: when the peer's current run of requests on this pair
	// began (the first, or the first after ProbeTimeout of silence); a
	// peer that moved starts one on the pair it moved to (roam.go).
	peerSince time.Time
	// nominateAfter: a nomination of this pair went unanswered; the
	// controlling agent does not nominate it again before this.
	nominateAfter time.Time
	removed       bool
	// mapped is where the peer saw our last successful check on this
	// pair come from; it ranks the pair (valid.go).
	mapped netip.AddrPort
	// answeredAt is the last authenticated success answer to a check or
	// probe on this pair: how fresh a backup is (failover.go).
	answeredAt time.Time
}

func (p *pair) path() ice.Path { return ice.Path{Local: p.local, Remote: p.remote} }

// ErrCandidateType: a local candidate of the wrong type for the command
// (AddLocalCandidate takes bases, host or relay; AddReflexiveCandidate
// server-reflexive ones). Only the Node adds local candidates, so no
// application meets it.
var ErrCandidateType = errors.New("ice: local candidates must be host or relay (a base)")

// AddLocalCandidate adds a base candidate (host, or relay from the TURN
// work) and pairs it with every remote candidate of its family.
// Server-reflexive candidates are signalled by the owner but never paired:
// their base, a host candidate, already is (RFC 8445 6.1.2.4); the owner
// hands them to AddReflexiveCandidate, which ranks pairs by them.
func (a *Agent) AddLocalCandidate(now time.Time, c stunmsg.Candidate) error {
	if c.Type != stunmsg.Host && c.Type != stunmsg.Relay {
		return ErrCandidateType
	}
	if !c.Addr.IsValid() || !c.Base.IsValid() {
		return ice.ErrInvalidCandidate
	}
	for _, l := range a.locals {
		if l.Base == c.Base {
			return nil
		}
	}
	if len(a.locals) >= a.cfg.MaxLocalCandidates {
		return ice.ErrTooManyCandidates
	}
	a.locals = append(a.locals, c)
	for _, r := range a.remotes {
		a.addPair(now, c, r)
	}
	return nil
}

// AddRemoteCandidate adds a signalled candidate of the peer. A known
// address is not added twice; a peer-reflexive one learned earlier takes
// the signalled type and priority.
func (a *Agent) AddRemoteCandidate(now time.Time, c stunmsg.Candidate) error {
	if !c.Addr.IsValid() || c.Addr.Port() == 0 || c.Addr.Addr().IsUnspecified() {
		return ice.ErrInvalidCandidate
	}
	c.Addr = netip.AddrPortFrom(c.Addr.Addr().Unmap(), c.Addr.Port())
	if i := a.remoteIndex(c.Addr); i >= 0 {
		if a.remotes[i].Type == stunmsg.PeerReflexive && c.Type != stunmsg.PeerReflexive {
			a.remotes[i] = c
			for _, p := range a.pairs {
				if p.remote.Addr == c.Addr {
					p.remote = c
				}
			}
			a.reprioritise()
		}
		return nil
	}
	if len(a.remotes) >= a.cfg.MaxRemoteCandidates {
		return ice.ErrTooManyCandidates
	}
	a.remotes = append(a.remotes, c)
	for _, l := range a.locals {
		a.addPair(now, l, c)
	}
	return nil
}

// RemoveRemoteCandidate forgets a remote candidate and its pairs, except a
// selected pair on a host or reflexive candidate: that path stays until its
// probes fail, so a signalling hiccup cannot cut a working connection. A
// withdrawn relay candidate is different: the peer's allocation is gone and
// nothing sent to it arrives, so the selected pair goes too and the agent
// moves to another succeeded pair or recovers (recovery.go; the peer's
// replacement candidate usually follows the withdrawal), failing with
// RelayLost if nothing works by the lost path's probe timeout.
func (a *Agent) RemoveRemoteCandidate(now time.Time, addr netip.AddrPort) bool {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	i := a.remoteIndex(addr)
	if i < 0 {
		return false
	}
	lostSelected := a.selected != nil && a.selected.remote.Addr == addr
	if lostSelected && a.remotes[i].Type != stunmsg.Relay {
		a.withdrawSelected(now, addr) // roam.go: the next pair to work takes over
		return false
	}
	a.remotes = slices.Delete(a.remotes, i, i+1)
	a.removePairs(func(p *pair) bool { return p.remote.Addr == addr })
	a.afterRemoval(now, lostSelected, ice.RelayLost)
	return true
}

func (a *Agent) remoteIndex(addr netip.AddrPort) int {
	for i, r := range a.remotes {
		if r.Addr == addr {
			return i
		}
	}
	return -1
}

func (a *Agent) localByBase(base netip.AddrPort) (stunmsg.Candidate, bool) {
	for _, l := range a.locals {
		if stunmsg.SameLocal(base, l.Base) {
			return l, true
		}
	}
	return stunmsg.Candidate{}, false
}

func (a *Agent) findPair(local, remote netip.AddrPort) *pair {
	for _, p := range a.pairs {
		if p.remote.Addr == remote && stunmsg.SameLocal(local, p.local.Base) {
			return p
		}
	}
	return nil
}

func (a *Agent) addPair(now time.Time, l, r stunmsg.Candidate) *pair {
	if l.Base.Addr().Is4() != r.Addr.Addr().Is4() {
		return nil
	}
	if p := a.findPair(l.Base, r.Addr); p != nil {
		return p
	}
	a.pairSeq++
	p := &pair{local: l, remote: r, seq: a.pairSeq}
	p.prio = a.pairPriority(p)
	a.pairs = append(a.pairs, p)
	a.sortPairs()
	if !a.hadPair {
		a.hadPair = true
		// Checks start now, not at a stale pacing instant from creation.
		a.nextCheckAt = maxTime(a.nextCheckAt, now)
	}
	return p
}

func (a *Agent) pairPriority(p *pair) uint64 {
	local := a.localPriority(p)
	if a.role == ice.Controlling {
		return stunmsg.PairPriority(local, p.remote.Priority)
	}
	return stunmsg.PairPriority(p.remote.Priority, local)
}

func (a *Agent) reprioritise() {
	for _, p := range a.pairs {
		p.prio = a.pairPriority(p)
	}
	a.sortPairs()
}

func (a *Agent) sortPairs() {
	slices.SortStableFunc(a.pairs, func(x, y *pair) int {
		switch {
		case x.prio > y.prio:
			return -1
		case x.prio < y.prio:
			return 1
		case x.seq < y.seq:
			return -1
		case x.seq > y.seq:
			return 1
		}
		return 0
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
