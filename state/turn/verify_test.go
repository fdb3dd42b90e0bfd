package turn

import (
	"net/netip"
	"testing"
	"time"
)

func TestVerifyFindsAForgottenAllocationAtOnceAndAllocatesAfresh(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.events = nil
	// The server restarted: the allocation is gone, Binding still works.
	h.s.allocated = false
	h.s.relayed = netip.MustParseAddrPort("198.51.100.1:50002")
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	before := len(h.sends)
	h.pump()
	// The Refresh meets 437; the probe beside it, already at the server,
	// becomes the new allocation.
	wantStrings(t, "sends after Verify", h.whats()[before:], []string{"Refresh+auth", "Allocate+auth", "Binding"})
	if got := h.kinds(); len(got) != 2 || got[0] != EventWithdrawn || got[1] != EventAllocated {
		t.Fatalf("events %v, want withdrawn then allocated", got)
	}
	if s := h.c.Stats(); s.Verifications != 1 || s.Reallocations != 1 || h.c.State() != StateAllocated {
		t.Fatalf("state %v, stats %+v", h.c.State(), s)
	}
}

func TestVerifyOfALiveAllocationCountsAsARefreshAndMovesTheNextOne(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(100 * time.Second)
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(401 * time.Second)
	// Half the lifetime is capped at 5 min: the next refresh counts from
	// the verification.
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(100, 400))
	if s := h.c.Stats(); s.Refreshes != 2 || s.Reallocations != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestVerifyIsRateLimitedToOneRefreshPerVerifyInterval(t *testing.T) {
	h := newHarness(t, nil)
	var sent []time.Duration
	// A lossy path asks every 1.5 s for 12 s.
	for at := 1500 * time.Millisecond; at <= 12*time.Second; at += 1500 * time.Millisecond {
		h.runUntil(at)
		if h.c.Verify(h.now) {
			sent = append(sent, at)
		}
		h.pump()
	}
	// The first at once. It finds the allocation alive, which doubles the
	// wait: the next one 10 s later at the earliest, the call at 12 s.
	wantDurations(t, "Verify", sent, secs(1.5, 12))
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(1.5, 12))
	if s := h.c.Stats(); s.Verifications != 2 || s.VerificationsLimited != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestVerifyDoesNothingWithoutAnAllocationOrWithARefreshInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RefreshAfter = 20 * time.Second })
	h.runUntil(19 * time.Second)
	h.deliver = false
	h.runUntil(21 * time.Second) // the scheduled Refresh is retransmitting
	if h.c.Verify(h.now) {
		t.Fatal("Verify sent a second Refresh while one is in flight")
	}
	h.deliver = true
	h.c.Close(h.now)
	if h.c.Verify(h.now) {
		t.Fatal("Verify after Close")
	}
}

// A server that never answers a Refresh for an allocation it lost (pion)
// but answers Binding: the probe beside the verification's Refresh gets
// the new allocation within a round trip, not after any schedule.
func TestAVerificationTheLiveServerLeavesUnansweredReallocatesThroughItsProbe(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.s.silentRefresh = true
	h.s.allocated = false
	h.s.relayed = netip.MustParseAddrPort("198.51.100.1:50002")
	// A restarted server has a new nonce: the first Refresh and probe meet
	// 438 and go again.
	h.s.staleNonce()
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(20 * time.Second)
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(10, 10))
	wantDurations(t, "Allocate", h.at("Allocate+auth"), secs(0, 10, 10))
	if r, ok := h.c.Relayed(); !ok || r != h.s.relayed {
		t.Fatalf("relayed %v %v, want the new allocation", r, ok)
	}
	if s := h.c.Stats(); s.Reallocations != 1 || s.Probes != 1 || h.c.State() != StateAllocated {
		t.Fatalf("state %v, stats %+v", h.c.State(), s)
	}
}

// A verification nothing answers proves nothing: the relay is not lost
// before the keepalive's full schedule says so.
func TestAVerificationThatHearsNothingIsDroppedAndTheKeepaliveDecides(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.s.silent = true
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(15 * time.Second)
	if h.c.State() != StateAllocated || h.c.Stats().VerificationsInconclusive != 1 {
		t.Fatalf("after the verification: state %v, stats %+v", h.c.State(), h.c.Stats())
	}
	h.runUntil(time.Minute)
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostTimeout {
		t.Fatalf("last event %+v, want lost by timeout", e)
	}
}

// The 438 that sends a verification's Refresh again is no sign of life
// after the retry left: a server silent from then on leaves the
// verification inconclusive, not a reason to re-allocate.
func TestAnAnswerBeforeARetryDoesNotMakeTheRetryLookAnswered(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.s.staleNonce()
	h.s.silentAfter = 1 // the 438, then nothing
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(20 * time.Second)
	if s := h.c.Stats(); s.VerificationsInconclusive != 1 || s.Reallocations != 0 {
		t.Fatalf("stats %+v: want the verification inconclusive and no re-allocation", s)
	}
}

// A live allocation verified again and again waits longer each time, up
// to the cap; finding it gone starts over.
func TestEachVerificationThatFindsTheAllocationAliveDoublesTheWaitBeforeTheNext(t *testing.T) {
	h := newHarness(t, nil)
	var sent []time.Duration
	for at := time.Second; at <= 4*time.Minute; at += time.Second {
		h.runUntil(at)
		if h.c.Verify(h.now) {
			sent = append(sent, at)
		}
		h.pump()
	}
	// Waits of 10, 20, 40, then 80 s.
	wantDurations(t, "Verify", sent, secs(1, 11, 31, 71, 151, 231))
}
