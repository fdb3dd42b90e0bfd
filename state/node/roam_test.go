package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

var roleSets = [][2]Role{{Controlling, Controlled}, {Controlled, Controlling}}

// signalledTarget is the bound on the gap a change leaves when
// the program signals it: one probe interval plus two round trips.
func signalledTarget(h *roamNet) time.Duration {
	return ice.Config{}.WithDefaults().ProbeInterval + 2*h.rtt()
}

// A node with two addresses that loses the one its path uses (an interface
// went down) moves to the other at once: the host candidate is withdrawn,
// both sides change path, and data flows again within a probe interval
// plus two round trips, with no Failed.
func TestRemovingTheAddressOfTheSelectedPathMovesToTheOtherAddress(t *testing.T) {
	for _, roles := range roleSets {
		h := newRoamNet(t, 1, [2][]netip.AddrPort{{roamA1, roamA2}, {roamB1}}, false)
		h.connect(roles)
		h.runFor(10 * time.Second)
		if p := h.path(0); p.Src() != roamA1 {
			t.Fatalf("%v: a is on %v, want its first address", roles, p)
		}
		change := h.now
		before := len(h.events[0])
		h.remove(0, roamA1)
		h.runFor(10 * time.Second)
		if f := h.failures(); len(f) != 0 {
			t.Fatalf("%v: failures %v", roles, f)
		}
		if p := h.path(0); p.Src() != roamA2 {
			t.Fatalf("%v: a is on %v, want its second address", roles, p)
		}
		if p := h.path(1); p.Dst() != roamA2 {
			t.Fatalf("%v: b is on %v, want a's second address", roles, p)
		}
		withdrawn := false
		for _, e := range h.events[0][before:] {
			if w, ok := e.(CandidateWithdrawn); ok && w.Candidate.Addr == roamA1 {
				withdrawn = true
			}
		}
		if !withdrawn {
			t.Fatalf("%v: a's removed host candidate was not withdrawn: %v", roles, h.events[0][before:])
		}
		for i := range h.nodes {
			g := h.gap(i, change)
			t.Logf("%v: %s's delivery gap %v", roles, names[i], g)
			if g > signalledTarget(h) {
				t.Errorf("%v: %s's delivery gap %v, want at most %v", roles, names[i], g, signalledTarget(h))
			}
		}
	}
}

// A laptop moving from Wi-Fi to LTE: the program adds the new address and
// removes the old one. The connection moves to the new address within a
// probe interval plus two round trips, whichever side controls, with no
// Failed.
func TestMovingToANewAddressKeepsTheConnection(t *testing.T) {
	for _, roles := range roleSets {
		for mover := range 2 {
			h := newRoamNet(t, 2, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
			h.connect(roles)
			h.runFor(10 * time.Second)
			old, neu := roamA1, roamA2
			if mover == 1 {
				old, neu = roamB1, roamB2
			}
			change := h.now
			h.add(mover, neu)
			h.remove(mover, old)
			h.runFor(20 * time.Second)
			if f := h.failures(); len(f) != 0 {
				t.Fatalf("%v, %s moves: failures %v", roles, names[mover], f)
			}
			if p := h.path(mover); p.Src() != neu {
				t.Fatalf("%v, %s moves: it is on %v, want %v", roles, names[mover], p, neu)
			}
			if p := h.path(1 - mover); p.Dst() != neu {
				t.Fatalf("%v, %s moves: its peer is on %v, want %v", roles, names[mover], p, neu)
			}
			for i := range h.nodes {
				g := h.gap(i, change)
				t.Logf("%v, %s moves: %s's delivery gap %v", roles, names[mover], names[i], g)
				if g > signalledTarget(h) {
					t.Errorf("%v, %s moves: %s's delivery gap %v, want at most %v", roles, names[mover], names[i], g, signalledTarget(h))
				}
			}
		}
	}
}

// The peer's NAT rebinds (its mapping is flushed; the next packets leave
// from a new external port) and nobody signals anything. The peer's probes
// arrive from the new port as a peer-reflexive candidate; the connection
// moves to it within a probe interval plus ProbeLossAfter (and a round
// trip), well under the probe timeout, instead of failing with
// ProbeTimeout.
func TestANATRebindingMovesTheConnectionToThePeersNewPort(t *testing.T) {
	cfg := ice.Config{}.WithDefaults()
	for _, roles := range roleSets {
		h := newRoamNet(t, 3, [2][]netip.AddrPort{{roamA1}, {roamB1}}, true)
		h.connect(roles)
		h.runFor(10 * time.Second)
		oldExt := h.path(0).Dst()
		change := h.now
		h.rebind()
		h.runFor(30 * time.Second)
		if f := h.failures(); len(f) != 0 {
			t.Fatalf("%v: failures %v", roles, f)
		}
		if p := h.path(0); p.Dst() == oldExt || p.Dst().Addr() != roamNATIP {
			t.Fatalf("%v: a is on %v, want b's new external port", roles, p)
		}
		bound := cfg.ProbeInterval + cfg.ProbeLossAfter + 2*h.rtt()
		for i := range h.nodes {
			g := h.gap(i, change)
			t.Logf("%v: %s's delivery gap %v", roles, names[i], g)
			if g > bound {
				t.Errorf("%v: %s's delivery gap %v, want at most %v", roles, names[i], g, bound)
			}
		}
	}
}

// The peer withdraws the remote candidate of the selected pair while
// nothing else works yet: the path stays (a stale withdrawal must not cut
// a working connection).
func TestAWithdrawnSelectedCandidateStaysWhileNothingElseWorks(t *testing.T) {
	h := newRoamNet(t, 4, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(10 * time.Second)
	for i := range h.nodes {
		if err := h.nodes[i].RemoveRemoteCandidate(h.now, connID, h.path(i).Dst()); err != nil {
			t.Fatal(err)
		}
	}
	h.drain()
	change := h.now
	h.runFor(30 * time.Second)
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	for i := range h.nodes {
		if g := h.gap(i, change); g > h.tick+h.rtt() {
			t.Errorf("%s's delivery gap %v", names[i], g)
		}
	}
}

// Removing an address that is not registered changes nothing; a wildcard
// is refused.
func TestRemoveLocalAddressIsIdempotentAndChecksItsArgument(t *testing.T) {
	h := newRoamNet(t, 5, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
	if err := h.nodes[0].RemoveLocalAddress(h.now, roamA2); err != nil {
		t.Fatalf("unknown address: %v", err)
	}
	if err := h.nodes[0].RemoveLocalAddress(h.now, netip.MustParseAddrPort("0.0.0.0:4000")); err != ErrInvalidAddr {
		t.Fatalf("wildcard: %v, want ErrInvalidAddr", err)
	}
}

// A driver that rebinds its socket to a new port moves the address: the
// connection carries on from the new one within a probe interval plus two
// round trips, whichever side controls.
func TestMovingAnAddressToANewPortKeepsTheConnection(t *testing.T) {
	moved := netip.AddrPortFrom(roamA1.Addr(), roamA1.Port()+1)
	for _, roles := range roleSets {
		h := newRoamNet(t, 9, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
		h.connect(roles)
		h.runFor(10 * time.Second)
		change := h.now
		h.addrs[0] = []netip.AddrPort{moved}
		if err := h.nodes[0].MoveLocalAddress(h.now, roamA1, moved); err != nil {
			t.Fatal(err)
		}
		h.drain()
		h.runFor(10 * time.Second)
		if f := h.failures(); len(f) != 0 {
			t.Fatalf("%v: failures %v", roles, f)
		}
		if p := h.path(0); p.Src() != moved {
			t.Fatalf("%v: a is on %v, want %v", roles, p, moved)
		}
		for i := range h.nodes {
			g := h.gap(i, change)
			t.Logf("%v: %s's delivery gap %v", roles, names[i], g)
			if g > signalledTarget(h) {
				t.Errorf("%v: %s's delivery gap %v, want at most %v", roles, names[i], g, signalledTarget(h))
			}
		}
	}
}

// A burst of loss on the selected path of a peer with a second address
// that works is not a move: the peer keeps probing the selected pair, and
// its requests on the other pair (its backup probes) began long before,
// so the connection stays where it is and failover's SwitchAfter alone
// decides about the backup. Without that distinction the first probe lost
// in the burst moved the connection within a few round trips.
func TestABurstOfLossOnAPeerWithTwoAddressesIsNotAMove(t *testing.T) {
	for _, roles := range roleSets {
		h := newRoamNet(t, 13, [2][]netip.AddrPort{{roamA1}, {roamB1, roamB2}}, false)
		h.connect(roles)
		h.runFor(20 * time.Second)
		sel := h.path(0)
		before := [2]int{len(h.events[0]), len(h.events[1])}
		h.drop = func(p packet) bool {
			return (p.src == sel.Src() && p.dst == sel.Dst()) || (p.src == sel.Dst() && p.dst == sel.Src())
		}
		burst := ice.Config{}.WithDefaults().SwitchAfter - time.Second
		h.runFor(burst)
		h.drop = nil
		h.runFor(10 * time.Second)
		for i := range h.nodes {
			if n := h.count(i, before[i], "path-changed"); n != 0 {
				t.Errorf("%v: %s changed path %d times in a %v burst: %v", roles, names[i], n, burst, h.events[i][before[i]:])
			}
		}
		if f := h.failures(); len(f) != 0 {
			t.Fatalf("%v: failures %v", roles, f)
		}
	}
}

// What still arrives on a removed address (left in the socket's queue, or
// in flight in the simulator) is dropped and counted: answering it would
// make the agent learn the address again as a local candidate and send
// from it, which no socket can do any more, and each such send failing at
// the head of the driver's queue delays the Control behind it.
func TestDatagramsOnARemovedAddressAreDropped(t *testing.T) {
	h := newRoamNet(t, 14, [2][]netip.AddrPort{{roamA1, roamA2}, {roamB1}}, false)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(5 * time.Second)
	// Keep a's probes to b from reaching it while a removes the address.
	var late []packet
	h.drop = func(p packet) bool {
		if p.from == 1 && p.dst == roamA1 {
			late = append(late, p)
			return true
		}
		return false
	}
	h.runFor(2 * time.Second)
	h.drop = nil
	if len(late) == 0 {
		t.Fatal("nothing toward a's first address to hold back")
	}
	h.remove(0, roamA1)
	for _, p := range late {
		h.nodes[0].HandleDatagram(h.now, p.dst, p.src, p.b)
	}
	if got := h.nodes[0].Stats().Drops(DropRemovedAddress); got != uint64(len(late)) {
		t.Fatalf("%d drops for the removed address, want %d", got, len(late))
	}
	// The batch form too: three coalesced datagrams, three drops.
	if n := h.nodes[0].HandleSegments(h.now, roamA1, roamB1, make([]byte, 300), 100, nil); n != 3 {
		t.Fatalf("HandleSegments took %d datagrams, want 3", n)
	}
	if got := h.nodes[0].Stats().Drops(DropRemovedAddress); got != uint64(len(late))+3 {
		t.Fatalf("%d drops for the removed address after a coalesced message, want %d", got, len(late)+3)
	}
	for {
		tx, ok := h.nodes[0].PollTransmit()
		if !ok {
			break
		}
		if tx.Src == roamA1 {
			t.Fatalf("a sends from its removed address: %v -> %v", tx.Src, tx.Dst)
		}
	}
	if err := h.nodes[0].AddLocalAddress(h.now, roamA1); err != nil {
		t.Fatal(err)
	}
	if h.nodes[0].wasRemoved(roamA1) {
		t.Fatal("an address added again is still dropped")
	}
}
