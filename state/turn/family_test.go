package turn

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

// familyServer is the fake server's address families: RFC 8656's rules
// for REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY, with
// switches for the servers met in practice.
type familyServer struct {
	// relayed6 is its IPv6 relayed address; zero: it has no IPv6 relay.
	relayed6 netip.AddrPort
	// refuseDual answers ADDITIONAL-ADDRESS-FAMILY with 440.
	refuseDual bool
	// ignoreDual predates RFC 8656: ADDITIONAL-ADDRESS-FAMILY is
	// comprehension-optional, so it allocates IPv4 as if it were absent.
	ignoreDual bool
	// asked logs what each Allocate asked for: "", "ipv4", "ipv6" or
	// "dual".
	asked []string
	// has4 and has6 are the families of the current allocation.
	has4, has6 bool
}

func askedFamily(m *stun.Message) string {
	if v, err := m.Get(stun.AttrRequestedAddressFamily); err == nil && len(v) == 4 {
		return map[byte]string{wireIPv4: "ipv4", wireIPv6: "ipv6"}[v[0]]
	}
	if v, err := m.Get(attrAdditionalFamily); err == nil && len(v) == 4 && v[0] == wireIPv6 {
		return "dual"
	}
	return ""
}

// refuse returns 440 for what the server cannot allocate, else 0.
func (f *familyServer) refuse(m *stun.Message) int {
	asked := askedFamily(m)
	f.asked = append(f.asked, asked)
	switch {
	case asked == "ipv6" && !f.relayed6.IsValid(), asked == "dual" && f.refuseDual:
		return CodeFamilyNotSupported
	}
	return 0
}

func (f *familyServer) has(ip netip.Addr) bool { return ip.Is4() && f.has4 || ip.Is6() && f.has6 }

// addRelayed writes the grant's relayed addresses, IPv4 first.
func (s *fakeServer) addRelayed(r, m *stun.Message) {
	f := &s.fam
	switch asked := askedFamily(m); {
	case asked == "ipv6":
		f.has4, f.has6 = false, true
	case asked == "dual" && !f.ignoreDual:
		f.has4, f.has6 = true, f.relayed6.IsValid()
	default:
		f.has4, f.has6 = true, false
	}
	if f.has4 {
		addXOR(r, stun.AttrXORRelayedAddress, s.relayed)
	}
	if f.has6 {
		addXOR(r, stun.AttrXORRelayedAddress, f.relayed6)
	}
	if askedFamily(m) == "dual" && !f.ignoreDual && !f.has6 {
		// ADDRESS-ERROR-CODE: family IPv6, 440.
		r.Add(attrAddressError, []byte{wireIPv6, 0, 4, 40})
	}
}

var (
	relayed6 = netip.MustParseAddrPort("[2001:db8::1]:50000")
	peer6    = netip.MustParseAddrPort("[2001:db8:2::10]:7000")
)

func withRelay6(s *fakeServer) { s.fam.relayed6 = relayed6 }

func TestTheDefaultFamilyAsksForNoFamilyAndGetsOneIPv4Address(t *testing.T) {
	h := newHarnessWith(t, withRelay6, nil)
	wantStrings(t, "families asked", h.s.fam.asked, []string{""})
	e := h.lastEvent()
	if e.Kind != EventAllocated || e.Relayed != h.s.relayed || e.Additional.IsValid() || e.Code != 0 {
		t.Fatalf("allocated %+v", e)
	}
	if err := h.c.CreatePermission(h.now, peer6); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("permission toward an IPv6 peer on an IPv4 relay: %v, want ErrInvalidPeer", err)
	}
}

func TestADualStackAllocationHasOneRelayedAddressOfEachFamilyAndServesPeersOfBoth(t *testing.T) {
	h := newHarnessFamily(t, withRelay6, FamilyDual)
	wantStrings(t, "families asked", h.s.fam.asked, []string{"dual"})
	e := h.lastEvent()
	if e.Kind != EventAllocated || e.Relayed != h.s.relayed || e.Additional != relayed6 || e.Code != 0 {
		t.Fatalf("allocated %+v, want %v and %v", e, h.s.relayed, relayed6)
	}
	if a, ok := h.c.Additional(); !ok || a != relayed6 {
		t.Fatalf("Additional() = %v %v", a, ok)
	}
	for _, p := range []netip.AddrPort{peerA, peer6} {
		if err := h.c.BindChannel(h.now, p); err != nil {
			t.Fatalf("channel to %v: %v", p, err)
		}
	}
	h.pump()
	if !h.c.HasChannel(peerA) || !h.c.HasChannel(peer6) {
		t.Fatalf("channels: v4 %v, v6 %v; events %v", h.c.HasChannel(peerA), h.c.HasChannel(peer6), h.kinds())
	}
	h.c.Close(h.now)
	h.pump()
	for _, e := range h.events {
		if e.Kind == EventWithdrawn && (e.Relayed != h.s.relayed || e.Additional != relayed6) {
			t.Fatalf("withdrawn %+v: both addresses go", e)
		}
	}
}

func TestAnIPv6AllocationAsksForIPv6OnlyAndRefusesIPv4Peers(t *testing.T) {
	h := newHarnessFamily(t, withRelay6, FamilyIPv6)
	wantStrings(t, "families asked", h.s.fam.asked, []string{"ipv6"})
	if e := h.lastEvent(); e.Kind != EventAllocated || e.Relayed != relayed6 || e.Additional.IsValid() {
		t.Fatalf("allocated %+v", e)
	}
	if err := h.c.CreatePermission(h.now, peerA); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("IPv4 peer on an IPv6 relay: %v, want ErrInvalidPeer", err)
	}
	if err := h.c.CreatePermission(h.now, peer6); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if !h.c.Permitted(peer6) {
		t.Fatalf("IPv6 peer not permitted; events %v", h.kinds())
	}
}

func TestADualStackRequestAnswered440IsAskedAgainForTheServersDefault(t *testing.T) {
	h := newHarnessFamily(t, func(s *fakeServer) { withRelay6(s); s.fam.refuseDual = true }, FamilyDual)
	wantStrings(t, "families asked", h.s.fam.asked, []string{"dual", ""})
	if e := h.lastEvent(); e.Kind != EventAllocated || e.Relayed != h.s.relayed || e.Additional.IsValid() {
		t.Fatalf("allocated %+v", e)
	}
	if h.c.Family() != FamilyDefault || h.c.Stats().FamilyFallbacks != 1 {
		t.Fatalf("family %v, fallbacks %d", h.c.Family(), h.c.Stats().FamilyFallbacks)
	}
}

func TestAnIPv6RequestAnswered440LosesTheRelayAsRejected(t *testing.T) {
	h := newHarnessFamily(t, nil, FamilyIPv6)
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostRejected || e.Code != CodeFamilyNotSupported {
		t.Fatalf("last event %+v, want lost rejected 440", e)
	}
}

func TestADualStackGrantOfIPv4OnlyCarriesTheServersReason(t *testing.T) {
	h := newHarnessFamily(t, nil, FamilyDual)
	wantStrings(t, "families asked", h.s.fam.asked, []string{"dual"})
	if e := h.lastEvent(); e.Kind != EventAllocated || e.Relayed != h.s.relayed || e.Additional.IsValid() ||
		e.Code != CodeFamilyNotSupported {
		t.Fatalf("allocated %+v, want IPv4 only with ADDRESS-ERROR-CODE 440", e)
	}
	if h.c.Stats().FamilyFallbacks != 0 {
		t.Fatal("a grant is not a fallback")
	}
}

func TestPeersOfAFamilyTheGrantLacksFailWith443AndAreNeverAskedFor(t *testing.T) {
	h := newHarnessFamily(t, func(s *fakeServer) { s.silent = true }, FamilyDual)
	// Silent server: the client is still binding. Ask for peers of both
	// families, then let the server (which has no IPv6 relay) answer.
	if err := h.c.BindChannel(h.now, peer6); err != nil {
		t.Fatal(err)
	}
	if err := h.c.CreatePermission(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.s.silent = false
	h.runUntil(secs(1)[0])
	var failed []Event
	for _, e := range h.events {
		if e.Kind == EventPeerFailed {
			failed = append(failed, e)
		}
	}
	if len(failed) != 2 || failed[0].Peer != peer6 || failed[0].Code != CodePeerFamilyMismatch ||
		failed[1].Peer.Addr() != peer6.Addr() || failed[1].Code != CodePeerFamilyMismatch {
		t.Fatalf("peer failures %+v, want the IPv6 channel and permission with 443", failed)
	}
	wantStrings(t, "permissions sent", h.whats()[len(h.whats())-1:], []string{"CreatePermission+auth"})
	if !h.c.Permitted(peerA) {
		t.Fatal("the IPv4 peer lost its permission too")
	}
}

func TestAServerThatPredatesDualStackGrantsIPv4AsIfNotAsked(t *testing.T) {
	h := newHarnessFamily(t, func(s *fakeServer) { withRelay6(s); s.fam.ignoreDual = true }, FamilyDual)
	if e := h.lastEvent(); e.Kind != EventAllocated || e.Relayed != h.s.relayed || e.Additional.IsValid() || e.Code != 0 {
		t.Fatalf("allocated %+v", e)
	}
	if err := h.c.CreatePermission(h.now, peer6); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("IPv6 peer without an IPv6 relayed address: %v", err)
	}
}

func TestAProbesGrantKeepsBothFamilies(t *testing.T) {
	h := newHarnessFamily(t, withRelay6, FamilyDual)
	// The server loses the allocation; a probe (an Allocate while
	// allocated) is granted a fresh one, which must ask for both again.
	h.s.allocated = false
	h.c.probe()
	h.pump()
	wantStrings(t, "families asked", h.s.fam.asked, []string{"dual", "dual"})
	if a, ok := h.c.Additional(); !ok || a != relayed6 {
		t.Fatalf("Additional() after the probe's grant = %v %v", a, ok)
	}
}

func TestAnUnknownFamilyIsAConfigError(t *testing.T) {
	id := Identity{Server: netip.MustParseAddrPort("198.51.100.1:3478"), Local: local, Family: FamilyDual + 1,
		Rand: rand.New(rand.NewPCG(1, 2))}
	if _, err := New(time.Unix(0, 0), id, Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New with Family %d: %v", id.Family, err)
	}
}

// coturn 4.6 knows the dual-stack attributes by the draft's code points
// only (0x8032, 0x8033); measured against it, a request with 0x8000 alone
// was granted IPv4 only.
func TestADualStackAllocateCarriesTheAdditionalFamilyUnderBothCodePoints(t *testing.T) {
	b := encodeRequest(request{kind: txAllocate, lifetime: time.Minute, family: FamilyDual}, [12]byte{1}, &credentials{})
	var m stun.Message
	m.Raw = b
	if err := m.Decode(); err != nil {
		t.Fatal(err)
	}
	for _, at := range []stun.AttrType{attrAdditionalFamily, attrAdditionalFamilyDraft} {
		if v, err := m.Get(at); err != nil || len(v) != 4 || v[0] != wireIPv6 {
			t.Fatalf("attribute %v = %x, %v; want IPv6", at, v, err)
		}
	}
	if m.Contains(stun.AttrRequestedAddressFamily) {
		t.Fatal("REQUESTED-ADDRESS-FAMILY beside ADDITIONAL-ADDRESS-FAMILY earns 400")
	}
	r := newMessage(typeAllocateRequest, [12]byte{2})
	r.Add(attrAddressErrorDraft, []byte{wireIPv6, 0, 5, 8})
	if got := addressError(r); got != 508 {
		t.Fatalf("ADDRESS-ERROR-CODE under coturn's code point read as %d, want 508", got)
	}
}
