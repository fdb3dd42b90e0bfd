//go:build linux

package dualstack

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// TestARelayConfiguredWithBothAddressesKeepsTheOneThatAnswers: a names
// coturn by an IPv6 address nothing answers at (on its link, so the
// kernel sends and nothing comes back) and by its IPv4 one as the
// alternate. The first Binding goes to both; the IPv4 answer decides,
// and the allocation, dual-stack, is made there.
func TestARelayConfiguredWithBothAddressesKeepsTheOneThatAnswers(t *testing.T) {
	w := newWorld(t)
	v4, v6 := coturnIn(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers := startPeers(t, ctx, w)
	a, b := peers[0], peers[1]
	dead := netip.AddrPortFrom(netip.MustParseAddr("fd00:61:1::99"), v4.Port())
	start := time.Now()
	if err := a.d.AddRelay(ctx, dead, a.local(dead), realturn.User, realturn.Password,
		node.WithFamily(turn.FamilyDual), node.WithAlternate(v4, a.local(v4))); err != nil {
		t.Fatal(err)
	}
	if err := b.d.AddRelay(ctx, v6, b.local(v6), realturn.User, realturn.Password, node.WithFamily(turn.FamilyIPv6)); err != nil {
		t.Fatal(err)
	}
	out := connectAdded(t, ctx, peers, 10*time.Second)
	out.after = time.Since(start)
	report(t, "coturn-race", out)
	if !out.connected {
		t.Fatal("not connected")
	}
	s, err := a.d.RelayStats(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dualstack coturn-race: kept alternate=%v relayed=%v additional=%v", s.Client.AlternateChosen == 1, s.Relayed, s.Additional)
	if s.Client.AlternateChosen != 1 || !s.Relayed.IsValid() || !s.Additional.IsValid() {
		t.Fatalf("relay stats %+v, want the alternate kept and a dual-stack allocation", s)
	}
	wantRelayedV6(t, out)
	exchange(t, ctx, peers, 200)
}
