package netmodel

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

var (
	natPublic = netip.MustParseAddr("192.0.2.1")
	inside    = netip.MustParseAddr("192.168.1.10")
	server1   = netip.MustParseAddr("198.51.100.10")
	server2   = netip.MustParseAddr("198.51.100.20")
)

// natWorld is one host behind a NAT and two public servers with two
// sockets each, every socket recording the source it saw.
type natWorld struct {
	w      *world.World
	n      *Network
	nat    *NAT
	in     *Socket
	inRecv sink
	srv    map[netip.AddrPort]*Socket // lookups only
	seen   map[netip.AddrPort][]netip.AddrPort
}

func newNATWorld(t *testing.T, cfg NATConfig) *natWorld {
	t.Helper()
	w := world.New(world.Config{Seed: 11})
	n := New(w)
	nat, err := n.AddNAT("home", natPublic, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := nat.AddHost("laptop", inside, HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	nw := &natWorld{w: w, n: n, nat: nat, srv: map[netip.AddrPort]*Socket{}, seen: map[netip.AddrPort][]netip.AddrPort{}}
	nw.in, _ = h.Bind(5000, SocketConfig{})
	nw.inRecv.attach(nw.in)
	for i, a := range []netip.Addr{server1, server2} {
		sh, _ := n.AddHost("server"+string(rune('1'+i)), a, HostConfig{})
		for _, port := range []uint16{3478, 3479} {
			s, _ := sh.Bind(port, SocketConfig{})
			ap := s.LocalAddr()
			nw.srv[ap] = s
			s.SetNotify(func(time.Time, SocketEvent) {
				for p, ok := s.ReadFrom(); ok; p, ok = s.ReadFrom() {
					nw.seen[ap] = append(nw.seen[ap], p.Src)
				}
			})
		}
	}
	return nw
}

// out sends from inside to a server and returns the mapped source the
// server saw.
func (nw *natWorld) out(t *testing.T, to netip.AddrPort) netip.AddrPort {
	t.Helper()
	before := len(nw.seen[to])
	nw.in.WriteTo(payload(0, 8), to)
	nw.w.RunUntilIdle(100)
	if len(nw.seen[to]) != before+1 {
		t.Fatalf("server %v got nothing", to)
	}
	return nw.seen[to][before]
}

// inbound sends from a server socket to mapped and reports whether it arrived.
func (nw *natWorld) inbound(from, mapped netip.AddrPort) bool {
	before := len(nw.inRecv.got)
	nw.srv[from].WriteTo(payload(0, 8), mapped)
	nw.w.RunUntilIdle(100)
	return len(nw.inRecv.got) == before+1
}

var (
	s1a = netip.AddrPortFrom(server1, 3478)
	s1b = netip.AddrPortFrom(server1, 3479)
	s2a = netip.AddrPortFrom(server2, 3478)
)

func TestMappingBehaviourDecidesWhichDestinationsShareAnExternalPort(t *testing.T) {
	tests := []struct {
		mapping                 Behavior
		samePortSameIP, otherIP bool // does the mapping match the one toward s1a?
	}{
		{EndpointIndependent, true, true},
		{AddressDependent, true, false},
		{AddressAndPortDependent, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.mapping.String(), func(t *testing.T) {
			nw := newNATWorld(t, NATConfig{Mapping: tc.mapping})
			m1 := nw.out(t, s1a)
			if m1.Addr() != natPublic {
				t.Fatalf("mapped to %v, want the NAT's public address", m1)
			}
			if again := nw.out(t, s1a); again != m1 {
				t.Fatalf("the same destination got a second mapping %v != %v", again, m1)
			}
			if got := nw.out(t, s1b) == m1; got != tc.samePortSameIP {
				t.Errorf("same IP, other port shares the mapping: %v, want %v", got, tc.samePortSameIP)
			}
			if got := nw.out(t, s2a) == m1; got != tc.otherIP {
				t.Errorf("other IP shares the mapping: %v, want %v", got, tc.otherIP)
			}
		})
	}
}

func TestFilteringBehaviourDecidesWhoMaySendIn(t *testing.T) {
	tests := []struct {
		filtering                            Behavior
		fromContacted, fromSameIP, fromOther bool
	}{
		{EndpointIndependent, true, true, true},
		{AddressDependent, true, true, false},
		{AddressAndPortDependent, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.filtering.String(), func(t *testing.T) {
			nw := newNATWorld(t, NATConfig{Filtering: tc.filtering})
			m := nw.out(t, s1a)
			got := [3]bool{nw.inbound(s1a, m), nw.inbound(s1b, m), nw.inbound(s2a, m)}
			want := [3]bool{tc.fromContacted, tc.fromSameIP, tc.fromOther}
			if got != want {
				t.Fatalf("inbound from contacted, same IP, other IP = %v, want %v", got, want)
			}
			if filtered := 3 - countTrue(want); nw.nat.Stats().DropFiltered != uint64(filtered) {
				t.Errorf("counted %d filtered, want %d", nw.nat.Stats().DropFiltered, filtered)
			}
		})
	}
}

func countTrue(b [3]bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

func TestABindingExpiresAfterItsTimeoutWithoutOutboundTraffic(t *testing.T) {
	nw := newNATWorld(t, NATConfig{BindingTimeout: 2 * time.Minute})
	m := nw.out(t, s1a)
	nw.w.RunFor(2*time.Minute - time.Second)
	if !nw.inbound(s1a, m) {
		t.Fatal("binding gone before its timeout")
	}
	nw.w.RunFor(2 * time.Second)
	if nw.inbound(s1a, m) {
		t.Fatal("binding still open after its timeout")
	}
	if nw.nat.Stats().DropNoMapping != 1 || nw.nat.Stats().Expired != 1 {
		t.Fatalf("stats %+v, want one no-mapping drop and one expiry", nw.nat.Stats())
	}
}

func TestOutboundTrafficRefreshesABindingAndInboundDoesNotByDefault(t *testing.T) {
	nw := newNATWorld(t, NATConfig{BindingTimeout: 2 * time.Minute})
	m := nw.out(t, s1a)
	for i := 0; i < 10; i++ { // ten minutes, refreshed every minute
		nw.w.RunFor(time.Minute)
		if got := nw.out(t, s1a); got != m {
			t.Fatalf("refresh %d moved the mapping to %v", i, got)
		}
	}
	for i := 0; i < 3; i++ { // inbound only: does not keep it
		nw.w.RunFor(time.Minute)
		nw.inbound(s1a, m)
	}
	if nw.nat.Bindings() != 0 {
		t.Fatal("inbound traffic kept the binding alive")
	}
}

func TestInboundRefreshKeepsABindingWhenEnabled(t *testing.T) {
	nw := newNATWorld(t, NATConfig{BindingTimeout: 2 * time.Minute, InboundRefresh: true})
	m := nw.out(t, s1a)
	for i := 0; i < 5; i++ {
		nw.w.RunFor(time.Minute)
		if !nw.inbound(s1a, m) {
			t.Fatalf("inbound %d refused", i)
		}
	}
}

func TestExternalPortsComeFromTheSeedAndStayInRange(t *testing.T) {
	ports := func(seed uint64) []uint16 {
		w := world.New(world.Config{Seed: seed})
		n := New(w)
		nat, _ := n.AddNAT("n", natPublic, NATConfig{Mapping: AddressAndPortDependent, PortMin: 20000, PortMax: 20009})
		h, _ := nat.AddHost("h", inside, HostConfig{})
		s, _ := h.Bind(5000, SocketConfig{})
		for i := 0; i < 10; i++ {
			s.WriteTo([]byte{1}, netip.AddrPortFrom(server1, uint16(1000+i)))
		}
		w.RunUntilIdle(1000)
		var out []uint16
		for _, b := range nat.bindings {
			if b.external.Port() < 20000 || b.external.Port() > 20009 {
				t.Fatalf("port %d out of range", b.external.Port())
			}
			out = append(out, b.external.Port())
		}
		return out
	}
	a, b := ports(1), ports(1)
	if len(a) != 10 || len(b) != 10 {
		t.Fatalf("made %d and %d bindings, want 10 (the whole range)", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 1 gave %v then %v", a, b)
		}
	}
}

func TestTheNATDropsNewFlowsWhenItsTableIsFull(t *testing.T) {
	nw := newNATWorld(t, NATConfig{Mapping: AddressAndPortDependent, MaxBindings: 2})
	nw.out(t, s1a)
	nw.out(t, s1b)
	nw.in.WriteTo([]byte{1}, s2a)
	nw.w.RunUntilIdle(100)
	if len(nw.seen[s2a]) != 0 || nw.nat.Stats().DropTableFull != 1 {
		t.Fatal("a third flow passed a two-binding NAT")
	}
}

func TestHostsBehindOneNATReachEachOtherDirectly(t *testing.T) {
	nw := newNATWorld(t, NATConfig{})
	other, _ := nw.nat.AddHost("phone", netip.MustParseAddr("192.168.1.11"), HostConfig{})
	s, _ := other.Bind(6000, SocketConfig{})
	s.WriteTo(payload(7, 8), nw.in.LocalAddr())
	nw.w.RunUntilIdle(100)
	if len(nw.inRecv.got) != 1 || nw.inRecv.got[0].src != s.LocalAddr() {
		t.Fatalf("got %+v, want one datagram from the private address", nw.inRecv.got)
	}
	if nw.nat.Bindings() != 0 {
		t.Fatal("LAN traffic made a NAT binding")
	}
}
