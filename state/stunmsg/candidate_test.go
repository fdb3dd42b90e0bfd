package stunmsg

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func TestHostPriorityWithTopLocalPreferenceIsTheRFCValue(t *testing.T) {
	// 126<<24 + 65535<<8 + 255, the value every ICE stack gives its best host.
	if got, want := Priority(Host, 65535, 1), uint32(2130706431); got != want {
		t.Fatalf("Priority = %d, want %d", got, want)
	}
	if Priority(Relay, 65535, 1) >= Priority(ServerReflexive, 0, 1) {
		t.Fatal("a relay candidate must rank below every server-reflexive one")
	}
}

func TestPairPriorityIsSymmetricExceptForTheTieBit(t *testing.T) {
	g, d := uint32(2130706431), uint32(1694498815)
	if got, want := PairPriority(g, d), uint64(d)<<32+2*uint64(g)+1; got != want {
		t.Fatalf("PairPriority(g>d) = %d, want %d", got, want)
	}
	if PairPriority(g, d)-PairPriority(d, g) != 1 {
		t.Fatal("swapping roles must change the priority by exactly the tie bit")
	}
}

func TestCandidateAttributeRoundTrips(t *testing.T) {
	for _, c := range []Candidate{
		NewCandidate(Host, ap("192.0.2.1:4000"), ap("192.0.2.1:4000"), netip.AddrPort{}, 65535),
		NewCandidate(ServerReflexive, ap("203.0.113.9:61000"), ap("192.0.2.1:4000"), ap("198.51.100.1:3478"), 65535),
		NewCandidate(Relay, ap("[2001:db8::7]:50000"), ap("[2001:db8::7]:50000"), ap("[2001:db8::1]:3478"), 1),
	} {
		got, err := ParseCandidate(c.Marshal())
		if err != nil {
			t.Fatalf("ParseCandidate(%q): %v", c.Marshal(), err)
		}
		c.Base = netip.AddrPort{} // local knowledge, never signalled
		if diff := cmp.Diff(c, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", c.Marshal(), diff)
		}
	}
}

func TestParseCandidateSkipsUnknownExtensionsAndRejectsTCP(t *testing.T) {
	c, err := ParseCandidate("a=candidate:842163049 1 UDP 1677729535 198.51.100.7 56789 typ srflx raddr 10.0.0.1 rport 5000 generation 0 network-cost 999")
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != ServerReflexive || c.Addr != ap("198.51.100.7:56789") || c.Related != ap("10.0.0.1:5000") {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{
		"candidate:1 1 tcp 1 10.0.0.1 9 typ host",
		"candidate:1 1 udp 1 10.0.0.1 9 typ bogus",
		"candidate:1 1 udp 1 10.0.0.1 70000 typ host",
		"candidate:1 1 udp 1 10.0.0.1 9 type host",
		"candidate:1 1 udp 1 10.0.0.1 9 typ host raddr",
		"candidate:! 1 udp 1 10.0.0.1 9 typ host",
		"1 1 udp 1 10.0.0.1 9 typ host",
	} {
		if _, err := ParseCandidate(bad); err == nil {
			t.Errorf("ParseCandidate(%q) accepted", bad)
		}
	}
}

func TestAnyCandidateRoundTripsThroughItsAttributeString(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := Candidate{
			Foundation: rapid.StringMatching(`[a-zA-Z0-9+/]{1,32}`).Draw(t, "foundation"),
			Component:  rapid.IntRange(1, 255).Draw(t, "component"),
			Priority:   rapid.Uint32().Draw(t, "priority"),
			Type:       CandidateType(rapid.IntRange(0, 3).Draw(t, "type")),
			Addr:       drawAddrPort(t, "addr"),
		}
		if c.Type != Host {
			c.Related = drawAddrPort(t, "related")
		}
		got, err := ParseCandidate(c.Marshal())
		if err != nil {
			t.Fatalf("ParseCandidate(%q): %v", c.Marshal(), err)
		}
		if got != c {
			t.Fatalf("round trip of %q gave %+v", c.Marshal(), got)
		}
	})
}

func drawAddrPort(t *rapid.T, label string) netip.AddrPort {
	var a netip.Addr
	if rapid.Bool().Draw(t, label+"v6") {
		a = netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, label+"ip"))).Unmap()
	} else {
		a = netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, label+"ip")))
	}
	return netip.AddrPortFrom(a, rapid.Uint16().Draw(t, label+"port"))
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
