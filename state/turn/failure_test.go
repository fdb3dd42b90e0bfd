package turn

import (
	"net/netip"
	"testing"
	"time"
)

func TestAllocationMismatchOnRefreshAllocatesAfreshAndAsksForEveryPeerAgain(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.events = nil
	// The server lost the allocation (say it restarted) and moved relays.
	h.s.allocated = false
	h.s.relayed = netip.MustParseAddrPort("198.51.100.1:50002")
	// The permission refresh at 240 s is the first request to meet 437.
	h.runUntil(241 * time.Second)
	wantStrings(t, "sends after the loss", h.whats()[len(h.sends)-4:],
		[]string{"CreatePermission+auth", "Allocate+auth", "CreatePermission+auth", "ChannelBind+auth"})
	got := h.kinds()
	want := []EventKind{EventWithdrawn, EventAllocated, EventPermitted, EventChannelBound}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if h.events[0].Relayed != netip.MustParseAddrPort("198.51.100.1:50000") || h.events[1].Relayed != h.s.relayed {
		t.Fatalf("withdrawn %v, allocated %v", h.events[0].Relayed, h.events[1].Relayed)
	}
	if !h.c.HasChannel(peerA) || h.c.Stats().Reallocations != 1 {
		t.Fatalf("channel %v, stats %+v", h.c.HasChannel(peerA), h.c.Stats())
	}
	// The fresh allocation has its own refresh schedule.
	h.runUntil(841 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(540, 840))
}

func TestARefreshTheLiveServerNeverAnswersIsSettledByAProbe(t *testing.T) {
	// pion/turn does not answer a Refresh for an allocation it no longer
	// has, but keeps answering Binding: that is not a dead relay. The
	// probe (an Allocate) is granted: the old allocation was gone.
	h := newHarness(t, func(c *Config) { c.RefreshAfter = 20 * time.Second })
	h.s.silentRefresh = true
	h.s.allocated = false
	h.runUntil(45 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(20, 20.5, 21.5, 23.5, 27.5, 31.5, 35.5))
	wantDurations(t, "Allocate", h.at("Allocate+auth"), secs(0, 39.5))
	if h.c.State() != StateAllocated || h.c.Stats().Reallocations != 1 || h.c.Stats().Probes != 1 {
		t.Fatalf("state %v, stats %+v", h.c.State(), h.c.Stats())
	}
}

func TestARelayThatStopsAnsweringIsLostOneRequestTimeoutAfterTheKeepalive(t *testing.T) {
	h := newHarness(t, nil)
	h.s.silent = true
	h.runUntil(time.Minute)
	wantDurations(t, "Binding", h.at("Binding"), secs(0, 25, 25.5, 26.5, 28.5, 32.5, 36.5, 40.5))
	e := h.lastEvent()
	if e.Kind != EventLost || e.Reason != LostTimeout {
		t.Fatalf("last event %+v", e)
	}
	if got := h.kinds(); got[len(got)-2] != EventWithdrawn {
		t.Fatalf("events %v: the relayed address must be withdrawn first", got)
	}
	if h.c.State() != StateLost {
		t.Fatalf("state %v", h.c.State())
	}
	// Lost exactly at 25 s + RequestTimeout.
	h2 := newHarness(t, nil)
	h2.s.silent = true
	h2.runUntil(44499 * time.Millisecond)
	if h2.c.State() == StateLost {
		t.Fatal("lost before 44.5 s")
	}
	h2.runUntil(44500 * time.Millisecond)
	if h2.c.State() != StateLost {
		t.Fatal("not lost at 44.5 s")
	}
}

func TestAServerThatNeverAnswersTheFirstBindingIsLostAfterTheRequestTimeout(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.silent = true }, func(c *Config) {
		c.RequestRTO = 100 * time.Millisecond
		c.RequestRTOMax = 400 * time.Millisecond
		c.RequestTransmits = 4
	})
	h.runUntil(time.Minute)
	wantDurations(t, "Binding", h.at("Binding"), secs(0, 0.1, 0.3, 0.7))
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostTimeout {
		t.Fatalf("last event %+v", e)
	}
	if got := h.kinds(); len(got) != 1 {
		t.Fatalf("events %v: nothing was allocated, so nothing is withdrawn", got)
	}
}

func TestALostRequestIsRetransmittedAndTheAnswerToTheRetransmissionCounts(t *testing.T) {
	h := newHarness(t, nil)
	h.deliver = false
	h.runUntil(25 * time.Second) // the keepalive goes out, its answer is lost
	h.deliver = true
	h.runUntil(26 * time.Second)
	wantDurations(t, "Binding", h.at("Binding"), secs(0, 25, 25.5))
	if h.c.State() != StateAllocated || h.c.Stats().Retransmits != 1 {
		t.Fatalf("state %v, stats %+v", h.c.State(), h.c.Stats())
	}
}

func TestAPermissionTheServerRefusesIsReportedAndTheRelayStays(t *testing.T) {
	h := newHarness(t, nil)
	h.s.refusePeer = true
	if err := h.c.CreatePermission(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if e := h.lastEvent(); e.Kind != EventPeerFailed || e.Peer.Addr() != peerA.Addr() || e.Code != CodeForbidden {
		t.Fatalf("last event %+v", e)
	}
	if h.c.State() != StateAllocated || h.c.Permitted(peerA) {
		t.Fatal("relay gone or permission kept")
	}
	if _, err := h.c.Send(h.now, peerA, []byte("x")); err != ErrNoPermission {
		t.Fatalf("Send to a refused peer: %v", err)
	}
}

func TestUnauthorizedOnARefreshAfterTheAllocationIsAnAuthFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.s.password = "rotated"
	h.runUntil(300 * time.Second)
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostAuth {
		t.Fatalf("last event %+v", e)
	}
	if got := len(h.at("Refresh+auth")); got != 1 {
		t.Fatalf("%d refreshes: a failed credential is never retried", got)
	}
}

func TestRepeatedAllocationMismatchIsBounded(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.mismatchNext = 100 }, nil)
	h.runUntil(time.Minute)
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostRetries || e.Code != CodeAllocationMismatch {
		t.Fatalf("last event %+v after %q", e, h.whats())
	}
	if got := len(h.at("Allocate+auth")); got != 4 {
		t.Fatalf("%d signed Allocates, want 1 + MaxRetries", got)
	}
}
