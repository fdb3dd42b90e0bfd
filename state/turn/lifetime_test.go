package turn

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestAllocationIsRefreshedAfterHalfItsGrantedLifetime(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.maxLifetime = 60 * time.Second }, nil)
	if h.c.Lifetime() != 60*time.Second {
		t.Fatalf("granted %v, want the server's 60s", h.c.Lifetime())
	}
	h.runUntil(100 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(30, 60, 90))
}

func TestRefreshAfterCapsTheRefreshPeriodOfALongLifetime(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RefreshAfter = 100 * time.Second })
	h.runUntil(350 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(100, 200, 300))
}

func TestADefaultAllocationIsRefreshedEveryFiveMinutes(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(16 * time.Minute)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(300, 600, 900))
}

func TestKeepaliveBindingGoesOutEvery25SecondsWhileAllocated(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(80 * time.Second)
	wantDurations(t, "Binding", h.at("Binding"), secs(0, 25, 50, 75))
}

func TestPermissionsAreRefreshedEvery240SecondsAndChannelsEvery300(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	if err := h.c.CreatePermission(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	if err := h.c.BindChannel(h.now, peerB); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.runUntil(620 * time.Second)
	// Two permissions (A's and, for the channel, B's IP) every 240 s.
	wantDurations(t, "CreatePermission", h.at("CreatePermission+auth"), secs(10, 10, 250, 250, 490, 490))
	wantDurations(t, "ChannelBind", h.at("ChannelBind+auth"), secs(10, 310, 610))
	if !h.c.Permitted(peerA) || !h.c.HasChannel(peerB) {
		t.Fatal("permission or channel lost")
	}
	var bound, permitted int
	for _, e := range h.events {
		switch e.Kind {
		case EventChannelBound:
			bound++
			if e.Peer != peerB || e.Channel != minChannel {
				t.Fatalf("bound %+v", e)
			}
		case EventPermitted:
			permitted++
		}
	}
	if bound != 1 || permitted != 2 {
		t.Fatalf("refreshes emitted events: %d bound, %d permitted", bound, permitted)
	}
}

func TestPermissionAndChannelRequestedBeforeTheAllocationGoOutWhenItIsGranted(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.silent = true }, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.s.silent = false
	h.runUntil(time.Second) // the Binding's first retransmission is answered
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Binding", "Allocate", "Allocate+auth",
		"CreatePermission+auth", "ChannelBind+auth"})
	if !h.c.HasChannel(peerA) {
		t.Fatal("no channel")
	}
}

func TestARemovedChannelsNumberCoolsDownFiveMinutesAfterItsBindingExpires(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.runUntil(100 * time.Second)
	h.c.RemovePeer(h.now, peerA)
	// Bound at 0 s, the channel lives on the server until 600 s, and its
	// number may go to another peer from 900 s on. Numbers are handed out
	// round-robin; pointing the search back at the first number shows it
	// is skipped while cooling and used again after.
	numberFor := func(p netip.AddrPort) uint16 {
		h.c.peers.nextNumber = minChannel
		if err := h.c.BindChannel(h.now, p); err != nil {
			t.Fatal(err)
		}
		h.pump()
		return h.c.peers.byPeer[p].number
	}
	if n := numberFor(peerB); n != minChannel+1 {
		t.Fatalf("peer B got %#x while %#x cools down", n, minChannel)
	}
	h.runUntil(899 * time.Second)
	if n := numberFor(withPort(peerB, 1)); n != minChannel+2 {
		t.Fatalf("at 899 s a new peer got %#x", n)
	}
	h.runUntil(900 * time.Second)
	if n := numberFor(withPort(peerB, 2)); n != minChannel {
		t.Fatalf("at 900 s a new peer got %#x, want the cooled %#x", n, minChannel)
	}
}

func TestAPeerStillCoolingDownGetsItsOldChannelNumberBack(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	if err := h.c.BindChannel(h.now, peerB); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.c.RemovePeer(h.now, peerA)
	h.runUntil(time.Minute)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if ch := h.c.peers.byPeer[peerA]; ch == nil || ch.number != minChannel {
		t.Fatalf("peer A came back with %+v, want its old number %#x", ch, minChannel)
	}
	if len(h.c.peers.cooling) != 0 {
		t.Fatalf("cooldown kept: %+v", h.c.peers.cooling)
	}
}

func TestWhenEveryNumberCoolsDownBindChannelIsRefused(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxCooldowns = 5000 })
	for i := range maxChannel - minChannel + 1 {
		p := peerA
		p = withPort(p, uint16(1000+i))
		if err := h.c.BindChannel(h.now, p); err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
		h.pump()
		h.c.RemovePeer(h.now, p)
		if i%60 == 0 {
			h.pump()
		}
	}
	if err := h.c.BindChannel(h.now, peerB); !errors.Is(err, ErrChannelCooldown) {
		t.Fatalf("BindChannel with every number cooling: %v", err)
	}
}

func TestAStaleNonceOnARefreshIsRetriedAndTheScheduleGoesOn(t *testing.T) {
	h := newHarness(t, nil)
	h.s.staleNext = 1
	h.runUntil(601 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(300, 300, 600))
	if s := h.c.Stats(); s.StaleNonces != 1 || s.Refreshes != 2 || h.c.State() != StateAllocated {
		t.Fatalf("state %v, stats %+v", h.c.State(), s)
	}
}

func TestPollingTheDeadlineAllocatesNothing(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if n := testing.AllocsPerRun(100, func() { h.c.PollTimeout() }); n != 0 {
		t.Fatalf("%v allocations per PollTimeout", n)
	}
}
