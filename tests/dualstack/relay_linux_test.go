//go:build linux

package dualstack

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

var v6any = netip.IPv6Unspecified()

// coturnIn runs coturn in w's relay namespace, listening on all three of
// its addresses and relaying from one of each family.
func coturnIn(t *testing.T, w *world) (v4, v6 netip.AddrPort) {
	srv := realturn.Coturn(t, realturn.CoturnConfig{Netns: w.R,
		ListenIPs: []netip.Addr{w.RA4, w.RA6, w.RB6}, RelayIPs: []netip.Addr{w.RA4, w.RA6}})
	return srv.Addr, netip.AddrPortFrom(w.RB6, srv.Addr.Port())
}

func startPeers(t *testing.T, ctx context.Context, w *world) [2]*peer {
	a := startPeer(t, ctx, "a", w.A, v6any, w.A4, w.A6)
	b := startPeer(t, ctx, "b", w.B, w.B6, w.B6)
	return [2]*peer{a, b}
}

// TestAnIPv6OnlyPeerReachesADualStackPeerThroughCoturn: a, on IPv4 and
// IPv6, talks to coturn over IPv4 and asks for both families; b has IPv6
// alone. b's IPv6 relayed address pairs with a's IPv6 one.
func TestAnIPv6OnlyPeerReachesADualStackPeerThroughCoturn(t *testing.T) {
	w := newWorld(t)
	v4, v6 := coturnIn(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers := startPeers(t, ctx, w)
	out := connectThroughRelay(t, ctx, peers, [2]relayUse{{v4, turn.FamilyDual}, {v6, turn.FamilyIPv6}}, 10*time.Second)
	report(t, "coturn", out)
	if !out.connected {
		t.Fatal("not connected")
	}
	if len(out.gathered[0]) != 2 || family(out.gathered[0][0]) == family(out.gathered[0][1]) {
		t.Fatalf("a gathered relay candidates %v, want one per family", out.gathered[0])
	}
	wantRelayedV6(t, out)
	exchange(t, ctx, peers, 200)
}

// TestAnIPv6OnlyPeerCannotReachAPeerWhoseRelayIsIPv4Only is the case
// above with a asking for the server's default family: its only relay
// candidate is IPv4, which nothing of b pairs with.
func TestAnIPv6OnlyPeerCannotReachAPeerWhoseRelayIsIPv4Only(t *testing.T) {
	w := newWorld(t)
	v4, v6 := coturnIn(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers := startPeers(t, ctx, w)
	out := connectThroughRelay(t, ctx, peers, [2]relayUse{{v4, turn.FamilyDefault}, {v6, turn.FamilyIPv6}}, 5*time.Second)
	report(t, "coturn-v4only", out)
	if out.connected {
		t.Fatalf("connected on %v without a common family", out.paths)
	}
}

// TestAnIPv6OnlyPeerReachesADualStackPeerThroughPionTurn: pion/turn v4
// knows no address families; its relayed sockets here are IPv6. a asks
// for both families over IPv4 (pion ignores ADDITIONAL-ADDRESS-FAMILY,
// which is comprehension-optional) and gets IPv6 alone; b asks for IPv6
// over IPv6.
func TestAnIPv6OnlyPeerReachesADualStackPeerThroughPionTurn(t *testing.T) {
	w := newWorld(t)
	v4, v6 := pionIn(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers := startPeers(t, ctx, w)
	out := connectThroughRelay(t, ctx, peers, [2]relayUse{{v4, turn.FamilyDual}, {v6, turn.FamilyIPv6}}, 10*time.Second)
	report(t, "pion", out)
	if !out.connected {
		t.Fatal("not connected")
	}
	wantRelayedV6(t, out)
	exchange(t, ctx, peers, 200)
}

// report prints what a test measured, one stable line per run.
func report(t *testing.T, server string, out outcome) {
	var gathered [2][]string
	for i, g := range out.gathered {
		for _, a := range g {
			gathered[i] = append(gathered[i], family(a))
		}
	}
	paths := [2]string{"-", "-"}
	for i, p := range out.paths {
		if p.Local.Addr.IsValid() {
			paths[i] = describePath(p)
		}
	}
	t.Logf("dualstack %s: connected=%v after=%v a-relay=%v b-relay=%v a-path=%s b-path=%s", server, out.connected,
		out.after.Round(time.Millisecond), gathered[0], gathered[1], paths[0], paths[1])
}

func wantRelayedV6(t *testing.T, out outcome) {
	t.Helper()
	for i, p := range out.paths {
		if p.Local.Type != stunmsg.Relay && p.Remote.Type != stunmsg.Relay || family(p.Remote.Addr) != "v6" {
			t.Fatalf("peer %d connected on %v, want a path through an IPv6 relayed address", i, p)
		}
	}
}

// pionIn runs pion/turn in this process with its listening sockets (one
// on R's IPv4 address toward a, one on its IPv6 address toward b) and
// every relayed socket in w's relay namespace.
func pionIn(t *testing.T, w *world) (v4, v6 netip.AddrPort) {
	listen := func(a netip.Addr) net.PacketConn {
		uc, err := realturn.ListenUDPIn(w.R, netip.AddrPortFrom(a, 0))
		if err != nil {
			t.Fatal(err)
		}
		return uc
	}
	pc4, pc6 := listen(w.RA4), listen(w.RB6)
	gen := &relayIn{ns: w.R, ip: w.RA6}
	key := pionturn.GenerateAuthKey(realturn.User, realturn.Realm, realturn.Password)
	s, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: realturn.Realm,
		AuthHandler: func(u, _ string, _ net.Addr) ([]byte, bool) {
			return key, u == realturn.User
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{
			{PacketConn: pc4, RelayAddressGenerator: gen},
			{PacketConn: pc6, RelayAddressGenerator: gen},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return pc4.LocalAddr().(*net.UDPAddr).AddrPort(), pc6.LocalAddr().(*net.UDPAddr).AddrPort()
}

// relayIn is a pion RelayAddressGenerator that opens relayed sockets on ip
// inside namespace ns, whatever network pion names ("udp4" always, in v4).
type relayIn struct {
	ns string
	ip netip.Addr
}

func (g *relayIn) Validate() error { return nil }

func (g *relayIn) AllocatePacketConn(_ string, port int) (net.PacketConn, net.Addr, error) {
	uc, err := realturn.ListenUDPIn(g.ns, netip.AddrPortFrom(g.ip, uint16(port)))
	if err != nil {
		return nil, nil, err
	}
	return uc, uc.LocalAddr(), nil
}

func (g *relayIn) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, net.ErrClosed
}
