package turn

import (
	"net/netip"
	"testing"
	"time"
)

// newStreamHarness is a harness whose client reaches the server over TCP.
func newStreamHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessFull(t, nil, func(id *Identity) { id.Transport = TCP }, nil)
}

// loseAllocationWithStream makes the fake server forget the allocation, as
// a real one does with the stream it was made on.
func (h *harness) loseAllocationWithStream() {
	h.s.allocated = false
	h.s.relayed = netip.MustParseAddrPort("198.51.100.1:50002")
}

// A verification a second earlier found the allocation alive, so Verify is
// held back for a while; a stream reset is a new loss and verifies at once,
// which re-allocates within the round trip.
func TestAStreamResetVerifiesAtOnceRightAfterAVerification(t *testing.T) {
	h := newStreamHarness(t)
	h.runUntil(10 * time.Second)
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(11 * time.Second)
	h.events = nil
	h.loseAllocationWithStream()
	if h.c.Verify(h.now) {
		t.Fatal("Verify was not rate-limited a second after the last one")
	}
	before := len(h.sends)
	if !h.c.StreamReset(h.now) {
		t.Fatal("StreamReset sent nothing")
	}
	h.pump()
	wantStrings(t, "sends after StreamReset", h.whats()[before:], []string{"Refresh+auth", "Allocate+auth", "Binding"})
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(10, 11))
	if got := h.kinds(); len(got) != 2 || got[0] != EventWithdrawn || got[1] != EventAllocated {
		t.Fatalf("events %v, want withdrawn then allocated", got)
	}
	if r, ok := h.c.Relayed(); !ok || r != h.s.relayed {
		t.Fatalf("relayed %v %v, want the new allocation", r, ok)
	}
	s := h.c.Stats()
	if s.Verifications != 2 || s.StreamResets != 1 || s.VerificationsLimited != 1 || s.Reallocations != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The reset counts as a verification for the rate limit: a silent
	// path right after it asks nothing more.
	if h.c.Verify(h.now) {
		t.Fatal("Verify right after StreamReset was not rate-limited")
	}
}

// A verification whose requests went down with the old stream is not
// doubled: its Refresh, probe and Binding go again at once on the new
// stream, with their transaction IDs.
func TestAStreamResetSendsAVerificationInFlightAgainInsteadOfASecond(t *testing.T) {
	h := newStreamHarness(t)
	h.runUntil(10 * time.Second)
	h.deliver = false
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	lost := h.sends[len(h.sends)-3:]
	h.runUntil(10*time.Second + 200*time.Millisecond)
	h.deliver = true
	h.events = nil
	h.loseAllocationWithStream()
	before := len(h.sends)
	if !h.c.StreamReset(h.now) {
		t.Fatal("StreamReset reported no verification under way")
	}
	h.pump()
	again := h.sends[before:]
	if len(again) != 3 {
		t.Fatalf("sends after StreamReset %v, want the three in flight again", h.whats()[before:])
	}
	for i := range again {
		if again[i].what != lost[i].what || again[i].tx != lost[i].tx {
			t.Fatalf("sent again %v, want %v", again, lost)
		}
	}
	if got := h.kinds(); len(got) != 2 || got[0] != EventWithdrawn || got[1] != EventAllocated {
		t.Fatalf("events %v, want withdrawn then allocated", got)
	}
	if s := h.c.Stats(); s.Verifications != 1 || s.StreamResets != 1 || s.Reallocations != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAStreamResetDoesNothingOverUDPOrWithoutAnAllocation(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	if h.c.StreamReset(h.now) {
		t.Fatal("StreamReset on a client over UDP")
	}
	h = newStreamHarness(t)
	h.runUntil(10 * time.Second)
	h.c.Close(h.now)
	h.pump()
	if h.c.StreamReset(h.now) || h.c.Stats().StreamResets != 0 {
		t.Fatalf("StreamReset after Close: stats %+v", h.c.Stats())
	}
}
