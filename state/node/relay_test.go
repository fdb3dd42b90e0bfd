package node

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// newRelayPair is a pair harness whose direct path is blocked and whose
// nodes both use the harness relay.
func newRelayPair(t testing.TB, seed uint64) *pairHarness {
	h := newPairHarness(t, seed, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.blockDirect = true
	h.withRelay()
	return h
}

func (h *pairHarness) mustConnect() {
	if !h.connected(0) || !h.connected(1) {
		h.t.Fatalf("not connected:\n%s", strings.Join(h.log, "\n"))
	}
}

// throughRelay: the path leaves from our relayed address or goes to the
// peer's.
func throughRelay(p Path) bool {
	return p.Local.Type == stunmsg.Relay || p.Remote.Type == stunmsg.Relay || p.Dst().Addr() == relayIP
}

func TestPeersWhoseDirectPathIsBlockedConnectThroughTheRelayAndExchangeData(t *testing.T) {
	h := newRelayPair(t, 10)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i, n := range h.nodes {
		if p, _ := n.Path(connID); !throughRelay(p) {
			t.Fatalf("%s: path %v does not go through the relay", names[i], p)
		}
	}
	h.send(0, 100, 1000)
	h.send(1, 100, 1000)
	h.runFor(time.Second)
	if testing.Verbose() {
		t.Log("\n" + strings.Join(h.log, "\n"))
	}
	if h.received[0] != 100 || h.received[1] != 100 {
		t.Fatalf("received a=%d b=%d, want 100 each", h.received[0], h.received[1])
	}
	// Checks through the relay went out Control and data Data
	// (checkWrapped fails the test otherwise); at least one side wrapped
	// both, and its data used the bound channel.
	wrappedChecks := h.wrapped[0][gso.Control][innerCheck] + h.wrapped[1][gso.Control][innerCheck]
	wrappedData := h.wrapped[0][gso.Data][innerApp] + h.wrapped[1][gso.Data][innerApp]
	if wrappedChecks == 0 || wrappedData < 100 {
		t.Fatalf("wrapped checks=%d data=%d, want both through the relay", wrappedChecks, wrappedData)
	}
	if st := h.relay.Stats(); st.RelayedToPeer < 100 || st.RelayedToClient < 100 {
		t.Fatalf("relay stats %+v", st)
	}
}

func TestRelayedDataTravelsInChannelDataOnceTheChannelIsBound(t *testing.T) {
	h := newRelayPair(t, 11)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	h.log = nil
	h.send(0, 1, 500)
	h.send(1, 1, 500)
	var frames []string
	for _, l := range h.log {
		if strings.Contains(l, "send data") {
			frames = append(frames, l)
		}
	}
	sawChannel := false
	for _, l := range frames {
		if strings.Contains(l, "send(") {
			t.Fatalf("data in a Send indication after the channel was bound: %s", l)
		}
		sawChannel = sawChannel || strings.Contains(l, "channeldata(app 500B)")
	}
	if !sawChannel {
		t.Fatalf("no ChannelData among %q", frames)
	}
}

func TestALostRelayFailsTheConnectionsOnItWithRelayLost(t *testing.T) {
	h := newRelayPair(t, 12)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	h.relayDown = true
	downAt := h.now
	bound := fastRelay.WithDefaults().LostWithin()
	h.runFor(bound + time.Second)
	for i := range h.nodes {
		lost, failed := time.Duration(-1), ice.FailReason(0)
		for _, e := range h.events[i] {
			switch e := e.(type) {
			case RelayFailed:
				if lost < 0 {
					lost = 0
				}
				if e.Server != relayAddr || e.Reason != turn.LostTimeout {
					t.Fatalf("%s: %v", names[i], e)
				}
			case Failed:
				failed = e.Reason
			}
		}
		line, _ := h.find(names[i] + " event relay-lost")
		if lost < 0 || line == "" {
			t.Fatalf("%s: no RelayLost within %v:\n%s", names[i], bound, strings.Join(h.log, "\n"))
		}
		if d := parseTS(t, line).Sub(downAt); d > bound {
			t.Fatalf("%s: RelayLost %v after the relay died, bound %v", names[i], d, bound)
		}
		if failed != RelayLost {
			t.Fatalf("%s: connection ended with %v, want RelayLost:\n%s", names[i], failed, strings.Join(h.log, "\n"))
		}
	}
}

func TestARelayedConnectionMovesToTheDirectPathOnceItOpens(t *testing.T) {
	h := newRelayPair(t, 13)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	// Long enough for the direct pair's checks (13.75 s of retransmissions)
	// to fail: only the periodic recheck can find the path after this.
	h.runFor(20 * time.Second)
	h.mustConnect()
	if s := h.nodes[0].agentOf(connID).Stats(); s.Rechecks != 0 {
		t.Fatalf("rechecks before the interval: %d", s.Rechecks)
	}
	h.blockDirect = false
	openAt := h.now
	h.runFor(ice.DefaultConfig().RecheckInterval + 5*time.Second)
	for i, n := range h.nodes {
		p, ok := n.Path(connID)
		if !ok || throughRelay(p) || p.Src() != h.addrs[i] || p.Dst() != h.addrs[1-i] {
			t.Fatalf("%s: path %v, want host to host:\n%s", names[i], p, strings.Join(h.log, "\n"))
		}
		line, found := h.find(names[i] + " event conn 1 path-changed host")
		if !found {
			t.Fatalf("%s: no PathChanged to the direct path:\n%s", names[i], strings.Join(h.log, "\n"))
		}
		if d := parseTS(t, line).Sub(openAt); d > ice.DefaultConfig().RecheckInterval+time.Second || d < 0 {
			t.Fatalf("%s: moved %v after the path opened", names[i], d)
		}
	}
	h.send(0, 10, 100)
	h.send(1, 10, 100)
	h.runFor(time.Second)
	if h.received[0] != 10 || h.received[1] != 10 {
		t.Fatalf("received a=%d b=%d after the move", h.received[0], h.received[1])
	}
}

func TestARelayLostWhileADirectPathWorksLeavesTheConnectionUp(t *testing.T) {
	h := newPairHarness(t, 14, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.withRelay()
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	h.relayDown = true
	h.runFor(20 * time.Second)
	if _, ok := h.find("relay-lost"); !ok {
		t.Fatal("relay not reported lost")
	}
	h.mustConnect()
	if _, ok := h.find("failed"); ok {
		t.Fatalf("a connection failed:\n%s", strings.Join(h.log, "\n"))
	}
}

func TestRelayCommandsRefuseMisuseWithSentinelErrors(t *testing.T) {
	h := newPairHarness(t, 15, ice.Config{})
	n := h.nodes[0]
	server := netip.MustParseAddrPort("10.0.0.9:3478")
	if err := n.AddRelay(h.now, netip.AddrPort{}, h.addrs[0], "u", "p"); !errors.Is(err, ErrInvalidAddr) {
		t.Fatalf("invalid server: %v", err)
	}
	if err := n.AddRelay(h.now, server, h.addrs[0], "u", "p"); err != nil {
		t.Fatal(err)
	}
	if err := n.AddRelay(h.now, server, h.addrs[0], "u", "p"); !errors.Is(err, ErrRelayExists) {
		t.Fatalf("second AddRelay for a server: %v", err)
	}
	for i := 2; i <= n.cfg.MaxRelays; i++ {
		s := netip.AddrPortFrom(server.Addr(), uint16(3478+i))
		if err := n.AddRelay(h.now, s, h.addrs[0], "u", "p"); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.AddRelay(h.now, netip.MustParseAddrPort("10.0.0.9:1"), h.addrs[0], "u", "p"); !errors.Is(err, ErrTooManyRelays) {
		t.Fatalf("past MaxRelays: %v", err)
	}
	if err := n.RemoveRelay(h.now, netip.MustParseAddrPort("10.9.9.9:1")); !errors.Is(err, ErrUnknownRelay) {
		t.Fatalf("unknown relay: %v", err)
	}
	if err := n.RemoveRelay(h.now, server); err != nil {
		t.Fatal(err)
	}
	// Without an allocation yet the relay closes at once and is forgotten.
	if err := n.RemoveRelay(h.now, server); !errors.Is(err, ErrUnknownRelay) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestRemovingOneSidesRelayMovesTheConnectionOntoThePeersRelay(t *testing.T) {
	h := newRelayPair(t, 16)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	if err := h.nodes[1].RemoveRelay(h.now, relayAddr); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.runFor(2 * time.Second)
	h.mustConnect()
	for i := range h.nodes {
		if _, ok := h.find(names[i] + " event conn 1 path-changed"); !ok {
			t.Fatalf("%s: no PathChanged:\n%s", names[i], strings.Join(h.log, "\n"))
		}
	}
	// What is left goes through a's allocation only.
	pa, _ := h.nodes[0].Path(connID)
	pb, _ := h.nodes[1].Path(connID)
	if pa.Local.Type != stunmsg.Relay || pb.Remote.Type != stunmsg.Relay || pb.Dst() != pa.Src() {
		t.Fatalf("paths a %v, b %v: want both on a's relayed address", pa, pb)
	}
	if _, ok := h.find("relay-lost"); ok {
		t.Fatal("RemoveRelay raised RelayLost")
	}
	h.send(0, 20, 100)
	h.send(1, 20, 100)
	h.runFor(time.Second)
	if h.received[0] != 20 || h.received[1] != 20 {
		t.Fatalf("received a=%d b=%d after the move", h.received[0], h.received[1])
	}
	if got := h.nodes[1].Relays(); len(got) != 0 {
		t.Fatalf("b still lists relays %v", got)
	}
}

func TestClosingAConnectionGivesBackOnlyThePermissionsNoOtherConnectionUses(t *testing.T) {
	h := newRelayPair(t, 17)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	a, b := h.nodes[0], h.nodes[1]
	relayA, relayB := a.relays[0].client, b.relays[0].client
	peerB := h.addrs[1]
	// A second connection on a toward the same peer IP shares the
	// permission.
	creds := ice.NewCredentials(a.cfg.Rand)
	if _, err := a.Connect(h.now, 2, Controlling, Credentials{}, creds); err != nil {
		t.Fatal(err)
	}
	if err := a.AddRemoteCandidate(h.now, 2, stunmsg.NewCandidate(stunmsg.Host, peerB, peerB, netip.AddrPort{}, 1)); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.runFor(time.Second)
	if !relayA.Permitted(peerB) {
		t.Fatal("no permission toward b's IP while both connections are open")
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Close(h.now, 2))
	h.drain()
	if !relayA.Permitted(peerB) {
		t.Fatal("closing connection 2 removed the permission connection 1 still uses")
	}
	must(a.Close(h.now, connID))
	h.drain()
	if relayA.Permitted(peerB) {
		t.Fatal("permission kept after every connection using it closed")
	}
	// b's path runs through its own relay with a bound channel; closing
	// gives back the channel and the permission.
	p, _ := b.Path(connID)
	if !relayB.HasChannel(p.Dst()) || !relayB.Permitted(p.Dst()) {
		t.Fatalf("b: no channel or permission toward %v", p.Dst())
	}
	must(b.Close(h.now, connID))
	h.drain()
	if relayB.HasChannel(p.Dst()) || relayB.Permitted(p.Dst()) {
		t.Fatal("b: channel or permission kept after its only connection closed")
	}
}

func TestEachConnectionDrawsItsRelayFromTheSeededSource(t *testing.T) {
	assign := func() []netip.AddrPort {
		h := newPairHarness(t, 18, ice.Config{})
		n := h.nodes[0]
		for _, port := range []uint16{3478, 3479, 3480} {
			if err := n.AddRelay(h.now, netip.AddrPortFrom(relayIP, port), h.addrs[0], relayUser, relayPassword); err != nil {
				t.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(3, 3))
		var got []netip.AddrPort
		for id := ConnID(1); id <= 30; id++ {
			if _, err := n.Connect(h.now, id, Controlling, Credentials{}, ice.NewCredentials(rng)); err != nil {
				t.Fatal(err)
			}
			got = append(got, n.conns[id].relay.server)
		}
		return got
	}
	first := assign()
	used := map[netip.AddrPort]int{}
	for _, s := range first {
		used[s]++
	}
	if len(used) != 3 {
		t.Fatalf("30 connections used %d of 3 relays: %v", len(used), used)
	}
	if again := assign(); !slices.Equal(first, again) {
		t.Fatalf("the same seed chose differently:\n%v\n%v", first, again)
	}
}
