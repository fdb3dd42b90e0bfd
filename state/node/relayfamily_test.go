package node

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

var (
	relayed4 = netip.MustParseAddrPort("10.0.0.9:50000")
	relayed6 = netip.MustParseAddrPort("[2001:db8::9]:50002")
)

// dualRelay is a relay granted a dual-stack allocation.
func dualRelay(n *Node) *relay {
	r := &relay{server: relayAddr}
	n.setCands(r, turn.Event{Kind: turn.EventAllocated, Relayed: relayed4, Additional: relayed6})
	return r
}

func TestADualStackGrantGivesOneRelayCandidatePerFamily(t *testing.T) {
	n := &Node{}
	r := dualRelay(n)
	cands := r.cands()
	if len(cands) != 2 || cands[0].Base != relayed4 || cands[1].Base != relayed6 ||
		cands[0].Type != stunmsg.Relay || cands[1].Type != stunmsg.Relay {
		t.Fatalf("candidates %v, want relay candidates on %v and %v", cands, relayed4, relayed6)
	}
	for _, src := range []netip.AddrPort{relayed4, relayed6} {
		if !r.isBase(src) {
			t.Fatalf("%v is one of the relayed addresses", src)
		}
	}
	if r.isBase(netip.MustParseAddrPort("10.0.0.1:4000")) {
		t.Fatal("a host address is not relayed")
	}
}

func TestAPeerIsReachedFromTheRelayedAddressOfItsFamily(t *testing.T) {
	n := &Node{}
	r := dualRelay(n)
	for _, c := range []struct{ peer, want netip.AddrPort }{
		{netip.MustParseAddrPort("192.0.2.1:9"), relayed4},
		{netip.MustParseAddrPort("[::ffff:192.0.2.1]:9"), relayed4},
		{netip.MustParseAddrPort("[2001:db8:1::1]:9"), relayed6},
	} {
		if got, ok := r.baseFor(c.peer); !ok || got != c.want {
			t.Fatalf("baseFor(%v) = %v %v, want %v", c.peer, got, ok, c.want)
		}
	}
	single := &relay{server: relayAddr}
	n.setCands(single, turn.Event{Kind: turn.EventAllocated, Relayed: relayed4})
	if got, ok := single.baseFor(netip.MustParseAddrPort("[2001:db8:1::1]:9")); ok {
		t.Fatalf("an IPv4 allocation has no address for an IPv6 peer, got %v", got)
	}
	if len(single.cands()) != 1 {
		t.Fatalf("single-family candidates %v", single.cands())
	}
}

// TestPeersConnectThroughAnIPv6RelayedAddressTheyReachOverIPv4 runs the
// pair harness against a server whose relayed addresses are IPv6: each
// node asks for FamilyIPv6, signals its IPv6 relay candidate, and the two
// connect and carry data relay to relay, wrapped in IPv6 peer addresses.
func TestPeersConnectThroughAnIPv6RelayedAddressTheyReachOverIPv4(t *testing.T) {
	h := newPairHarness(t, 11, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.blockDirect = true
	h.relayedIP = netip.MustParseAddr("2001:db8::9")
	h.relayTweak = func(c *turnserver.Config) { c.RelayAddr = h.relayedIP }
	h.withRelayOpts(WithFamily(turn.FamilyIPv6))
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i, n := range h.nodes {
		p, _ := n.Path(connID)
		if p.Local.Type != stunmsg.Relay && p.Remote.Type != stunmsg.Relay || !p.Remote.Addr.Addr().Is6() {
			t.Fatalf("%s: path %v, want one through an IPv6 relayed address", names[i], p)
		}
		s, _ := n.RelayStats(relayAddr)
		if !s.Relayed.Addr().Is6() || s.Additional.IsValid() {
			t.Fatalf("%s: relay stats %+v", names[i], s)
		}
	}
	h.send(0, 50, 1000)
	h.send(1, 50, 1000)
	h.runFor(time.Second)
	if h.received[0] != 50 || h.received[1] != 50 {
		t.Fatalf("received a=%d b=%d, want 50 each", h.received[0], h.received[1])
	}
}

// TestARelayWhoseFirstAddressIsDeadIsReachedAtItsAlternate: the server
// given to AddRelay never answers (no route to it in the harness); the
// alternate does, wins the race, and carries the allocation and the
// connection. The relay keeps the name it was added under.
func TestARelayWhoseFirstAddressIsDeadIsReachedAtItsAlternate(t *testing.T) {
	h := newPairHarness(t, 12, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.blockDirect = true
	dead := netip.MustParseAddrPort("10.0.0.99:3478")
	cfg := turnserver.Config{Realm: "test", Users: []turnserver.Credential{{Username: relayUser, Password: relayPassword}},
		RelayAddr: relayIP, Rand: rand.New(rand.NewPCG(7, 7))}
	srv, err := turnserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.relay = srv
	for i, n := range h.nodes {
		if err := n.AddRelay(h.now, dead, h.addrs[i], relayUser, relayPassword, WithAlternate(relayAddr, h.addrs[i])); err != nil {
			t.Fatal(err)
		}
	}
	h.drain()
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i, n := range h.nodes {
		s, ok := n.RelayStats(dead)
		if !ok || s.Client.AlternateChosen != 1 || !s.Relayed.IsValid() {
			t.Fatalf("%s: relay stats %+v", names[i], s)
		}
		if p, _ := n.Path(connID); !throughRelay(p) {
			t.Fatalf("%s: path %v does not go through the relay", names[i], p)
		}
	}
}
