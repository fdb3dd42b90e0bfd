package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// srflxEvents lists side i's server-reflexive candidates gathered and
// withdrawn since event index from.
func (h *roamNet) srflxEvents(i, from int) (gathered, withdrawn []Candidate) {
	for _, e := range h.events[i][from:] {
		switch e := e.(type) {
		case CandidateGathered:
			if e.Candidate.Type == stunmsg.ServerReflexive {
				gathered = append(gathered, e.Candidate)
			}
		case CandidateWithdrawn:
			if e.Candidate.Type == stunmsg.ServerReflexive {
				withdrawn = append(withdrawn, e.Candidate)
			}
		}
	}
	return gathered, withdrawn
}

// A NAT that rebinds gives the node a new mapping; the periodic request to
// the STUN server learns it, and the new server-reflexive candidate
// replaces the old one: the old is withdrawn, the new gathered, once each,
// within one StunRefresh. The refresh is one request per StunRefresh, and
// the connection carries on without a failure.
func TestARebindingReplacesTheServerReflexiveCandidate(t *testing.T) {
	cfg := Config{StunServers: []netip.AddrPort{roamStun}}
	h := newRoamNetConfig(t, 6, [2][]netip.AddrPort{{roamA1}, {roamB1}}, true, cfg)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(10 * time.Second)
	first, _ := h.srflxEvents(1, 0)
	if len(first) != 1 {
		t.Fatalf("b gathered %v, want one server-reflexive candidate", first)
	}
	before, requests := len(h.events[1]), h.stunRequests
	h.rebind()
	refresh := cfg.withDefaults().StunRefresh
	h.runFor(refresh)
	gathered, withdrawn := h.srflxEvents(1, before)
	if len(withdrawn) != 1 || withdrawn[0] != first[0] {
		t.Fatalf("b withdrew %v, want its first srflx %v", withdrawn, first[0])
	}
	if len(gathered) != 1 || gathered[0].Addr == first[0].Addr || gathered[0].Addr.Addr() != roamNATIP {
		t.Fatalf("b gathered %v, want one new mapping", gathered)
	}
	if n := h.stunRequests - requests; n != 2 {
		t.Fatalf("%d STUN requests in one refresh interval, want 2 (one per node)", n)
	}
	// An unchanged mapping is not announced again.
	before = len(h.events[1])
	h.runFor(3 * refresh)
	if g, w := h.srflxEvents(1, before); len(g)+len(w) != 0 {
		t.Fatalf("an unchanged mapping gathered %v and withdrew %v", g, w)
	}
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
}

// Removing the address a server-reflexive candidate was learned through
// withdraws it with the host candidate, and the address left asks the
// STUN server for its own.
func TestRemovingAnAddressWithdrawsItsServerReflexiveCandidate(t *testing.T) {
	cfg := Config{StunServers: []netip.AddrPort{roamStun}}
	h := newRoamNetConfig(t, 7, [2][]netip.AddrPort{{roamA1}, {roamB1, roamB2}}, true, cfg)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(5 * time.Second)
	first, _ := h.srflxEvents(1, 0)
	if len(first) != 1 || first[0].Base != roamB1 {
		t.Fatalf("b gathered %v, want one srflx of its first address", first)
	}
	before := len(h.events[1])
	h.remove(1, roamB1)
	h.runFor(time.Second)
	gathered, withdrawn := h.srflxEvents(1, before)
	if len(withdrawn) != 1 || withdrawn[0] != first[0] {
		t.Fatalf("b withdrew %v, want %v", withdrawn, first[0])
	}
	if len(gathered) != 1 || gathered[0].Base != roamB2 {
		t.Fatalf("b gathered %v, want the srflx of its second address", gathered)
	}
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
}

// A relay allocated from a removed address is lost at once, with a reason
// that says so, and its candidate is withdrawn.
func TestRemovingTheAddressOfARelayLosesTheRelay(t *testing.T) {
	h := newPairHarness(t, 8, ice.Config{})
	h.withRelay()
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(5 * time.Second)
	if len(h.nodes[0].Relays()) != 1 {
		t.Fatal("a has no relay")
	}
	before := len(h.events[0])
	if err := h.nodes[0].RemoveLocalAddress(h.now, h.addrs[0]); err != nil {
		t.Fatal(err)
	}
	h.drain()
	lost, relayWithdrawn := false, false
	for _, e := range h.events[0][before:] {
		switch e := e.(type) {
		case RelayFailed:
			lost = e.Reason == turn.LostLocalAddress
		case CandidateWithdrawn:
			relayWithdrawn = relayWithdrawn || e.Candidate.Type == stunmsg.Relay
		}
	}
	if !lost || !relayWithdrawn || len(h.nodes[0].Relays()) != 0 {
		t.Fatalf("relay lost %v, candidate withdrawn %v, relays left %v", lost, relayWithdrawn, h.nodes[0].Relays())
	}
}

// Moving the address a relay was allocated from allocates it again from
// the new address: no RelayLost, the old relay candidate withdrawn and a
// new one gathered.
func TestMovingTheAddressOfARelayAllocatesItAgain(t *testing.T) {
	h := newPairHarness(t, 10, ice.Config{})
	h.withRelay()
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(5 * time.Second)
	before := len(h.events[0])
	old, moved := h.addrs[0], netip.AddrPortFrom(h.addrs[0].Addr(), h.addrs[0].Port()+1)
	h.addrs[0] = moved
	if err := h.nodes[0].MoveLocalAddress(h.now, old, moved); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.runFor(5 * time.Second)
	var lost, withdrawn, gathered int
	for _, e := range h.events[0][before:] {
		switch e := e.(type) {
		case RelayFailed, Failed:
			lost++
		case CandidateWithdrawn:
			if e.Candidate.Type == stunmsg.Relay {
				withdrawn++
			}
		case CandidateGathered:
			if e.Candidate.Type == stunmsg.Relay {
				gathered++
			}
		}
	}
	if lost != 0 || withdrawn != 1 || gathered != 1 || len(h.nodes[0].Relays()) != 1 {
		t.Fatalf("lost/failed %d, relay candidates withdrawn %d, gathered %d, relays %v", lost, withdrawn, gathered, h.nodes[0].Relays())
	}
	if p, ok := h.nodes[0].Path(connID); !ok || p.Src() != moved {
		t.Fatalf("a is on %v (%v), want a path from %v", p, ok, moved)
	}
}
