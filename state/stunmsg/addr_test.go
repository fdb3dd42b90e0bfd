package stunmsg

import (
	"net/netip"
	"testing"
)

func TestSameLocalAcceptsTheSocketsWildcardOnItsPort(t *testing.T) {
	want := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, c := range []struct {
		got  string
		same bool
	}{
		{"192.0.2.1:4000", true},
		{"0.0.0.0:4000", true},
		{"[::]:4000", true},
		{"192.0.2.2:4000", false}, // another address on the same port
		{"0.0.0.0:4001", false},   // another socket
	} {
		if got := SameLocal(netip.MustParseAddrPort(c.got), want); got != c.same {
			t.Errorf("SameLocal(%s, %s) = %v", c.got, want, got)
		}
	}
	if !SameLocal(netip.AddrPortFrom(netip.Addr{}, 4000), want) {
		t.Error("a driver that reports no local address: the port decides")
	}
}

func TestUnmapTurnsAnIPv4MappedAddressIntoIPv4(t *testing.T) {
	got := Unmap(netip.MustParseAddrPort("[::ffff:192.0.2.1]:4000"))
	if want := netip.MustParseAddrPort("192.0.2.1:4000"); got != want {
		t.Fatalf("Unmap = %v, want %v", got, want)
	}
}
