package netmodel

import (
	"net/netip"
	"testing"
)

// A rebinding NAT gives the inside a new external port; the old mapping
// takes nothing in any more. With a new public address (an uplink
// failover) the mapping moves there, and the old address routes nowhere.
func TestARebindGivesNewMappingsAndForgetsTheOldOnes(t *testing.T) {
	for _, public := range []netip.Addr{{}, netip.MustParseAddr("192.0.2.77")} {
		nw := newNATWorld(t, NATConfig{})
		m1 := nw.out(t, s1a)
		if err := nw.nat.Rebind(public); err != nil {
			t.Fatal(err)
		}
		if nw.inbound(s1a, m1) {
			t.Fatalf("public %v: the old mapping %v still lets the server in", public, m1)
		}
		m2 := nw.out(t, s1a)
		want := natPublic
		if public.IsValid() {
			want = public
		}
		if m2 == m1 || m2.Addr() != want {
			t.Fatalf("public %v: mapped to %v after the rebind (before %v)", public, m2, m1)
		}
		if !nw.inbound(s1a, m2) {
			t.Fatalf("public %v: the new mapping %v lets nothing in", public, m2)
		}
		if s := nw.nat.Stats(); s.Flushed != 1 {
			t.Fatalf("public %v: %d bindings flushed, want 1", public, s.Flushed)
		}
	}
}

// A host that moves to another NAT sends from its new address through the
// new NAT, and its socket reports the new address.
func TestAMovedHostSendsThroughItsNewNAT(t *testing.T) {
	nw := newNATWorld(t, NATConfig{})
	other, err := nw.n.AddNAT("lte", netip.MustParseAddr("192.0.2.88"), NATConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := nw.in.Host().Move(other, netip.MustParseAddr("10.9.0.2")); err != nil {
		t.Fatal(err)
	}
	if got := nw.in.LocalAddr(); got != netip.MustParseAddrPort("10.9.0.2:5000") {
		t.Fatalf("socket address %v after the move", got)
	}
	if m := nw.out(t, s1a); m.Addr() != other.Public() {
		t.Fatalf("mapped to %v, want the new NAT's %v", m, other.Public())
	}
	if err := nw.in.Host().Move(other, netip.MustParseAddr("10.9.0.2")); err != ErrAddrInUse {
		t.Fatalf("moving onto its own address: %v", err)
	}
}
