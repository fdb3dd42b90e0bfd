package turn

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestAllocationStartsWithBindingThenAChallengedAllocateRetriedWithCredentials(t *testing.T) {
	h := newHarness(t, nil)
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Allocate", "Allocate+auth"})
	for _, s := range h.sends {
		if s.at != 0 {
			t.Fatalf("%s at %v: with instant delivery everything happens at once", s.what, s.at)
		}
	}
	if h.sends[1].tx == h.sends[2].tx {
		t.Fatal("the authenticated retry reused the challenged transaction ID")
	}
	if got := h.kinds(); len(got) != 2 || got[0] != EventReflexive || got[1] != EventAllocated {
		t.Fatalf("events %v, want reflexive then allocated", got)
	}
	e := h.lastEvent()
	if e.Relayed != h.s.relayed || e.Reflexive != h.s.mapped || e.Lifetime != 600*time.Second {
		t.Fatalf("allocated %+v", e)
	}
	if r, ok := h.c.Relayed(); !ok || r != h.s.relayed || h.c.State() != StateAllocated {
		t.Fatalf("Relayed() = %v %v in %v", r, ok, h.c.State())
	}
	if h.c.Stats().UnsignedErrors != 1 {
		t.Fatalf("the 401 challenge should count as one unsigned error: %+v", h.c.Stats())
	}
}

func TestAStaleNonceIsRetriedWithTheNewNonceUnderAFreshTransactionID(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.staleNext = 1 }, nil)
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Allocate", "Allocate+auth", "Allocate+auth"})
	if h.sends[2].tx == h.sends[3].tx {
		t.Fatal("the retry after 438 reused the transaction ID")
	}
	if h.c.State() != StateAllocated || h.c.Stats().StaleNonces != 1 {
		t.Fatalf("state %v, stats %+v", h.c.State(), h.c.Stats())
	}
}

func TestStaleNoncesBeyondTheRetryBoundLoseTheRelay(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.staleNext = 100 }, nil)
	// The first signed Allocate and MaxRetries (3) retries, then give up.
	if got := len(h.at("Allocate+auth")); got != 4 {
		t.Fatalf("%d signed Allocates, want 4", got)
	}
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostRetries || e.Code != CodeStaleNonce {
		t.Fatalf("last event %+v", e)
	}
}

func TestUnauthorizedAfterCredentialsIsAnAuthFailureAfterExactlyOneSignedAttempt(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.password = "other" }, nil)
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Allocate", "Allocate+auth"})
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostAuth || e.Code != CodeUnauthorized {
		t.Fatalf("last event %+v", e)
	}
	if _, _, ok := h.c.PollTimeout(); ok {
		t.Fatal("a lost client still has a deadline")
	}
	h.runUntil(time.Hour)
	if len(h.sends) != 3 {
		t.Fatalf("the client kept trying: %q", h.whats())
	}
}

func TestPionsUnsignedBadRequestToASignedAllocateIsAnAuthFailure(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.badAuthIs400, s.password = true, "other" }, nil)
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Allocate", "Allocate+auth"})
	if e := h.lastEvent(); e.Kind != EventLost || e.Reason != LostAuth || e.Code != CodeBadRequest {
		t.Fatalf("last event %+v", e)
	}
}

func TestAnAllocationLeftOnTheFiveTupleIsDeletedBeforeAllocatingAgain(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.allocated = true }, nil)
	wantStrings(t, "sends", h.whats(),
		[]string{"Binding", "Allocate", "Allocate+auth", "Refresh+auth", "Allocate+auth"})
	if h.c.State() != StateAllocated {
		t.Fatalf("state %v", h.c.State())
	}
}

func TestCloseReleasesTheAllocationWithLifetimeZero(t *testing.T) {
	h := newHarness(t, nil)
	h.c.Close(h.now)
	h.pump()
	if got := h.whats()[len(h.sends)-1]; got != "Refresh+auth" || h.s.allocated {
		t.Fatalf("last send %q, server allocated %v", got, h.s.allocated)
	}
	if got := h.kinds(); got[len(got)-2] != EventWithdrawn || got[len(got)-1] != EventClosed {
		t.Fatalf("events %v", got)
	}
	if _, err := h.c.Send(h.now, peerA, []byte("x")); !errors.Is(err, ErrTerminal) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestCloseEndsAfterTheRequestTimeoutWhenTheServerNeverAnswers(t *testing.T) {
	h := newHarness(t, nil)
	h.s.silent = true
	h.c.Close(h.now)
	h.pump()
	h.runUntil(time.Minute)
	if e := h.lastEvent(); e.Kind != EventClosed {
		t.Fatalf("last event %+v", e)
	}
	if got := len(h.at("Refresh+auth")); got != 7 {
		t.Fatalf("%d releases sent, want 7", got)
	}
}

func TestConfigDefaultsAreValidAndNonsenseIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.Config().Validate(); err != nil {
		t.Fatal(err)
	}
	if got := h.c.Config().RequestTimeout(); got != 19500*time.Millisecond {
		t.Fatalf("default request timeout %v, want 19.5s", got)
	}
	base := h.c.Config()
	for name, tweak := range map[string]func(*Config){
		"refresh after lifetime":  func(c *Config) { c.PermissionRefreshAfter = c.PermissionLifetime },
		"rto max below rto":       func(c *Config) { c.RequestRTOMax = c.RequestRTO / 2 },
		"too many channels":       func(c *Config) { c.MaxChannels = 5000 },
		"lifetime below a second": func(c *Config) { c.Lifetime = time.Millisecond },
	} {
		c := base
		tweak(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate() = %v", name, err)
		}
		if _, err := New(h.now, h.identity(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New() = %v", name, err)
		}
	}
	for name, tweak := range map[string]func(*Identity){
		"no rng":    func(id *Identity) { id.Rand = nil },
		"no server": func(id *Identity) { id.Server = netip.AddrPort{} },
		"no local":  func(id *Identity) { id.Local = netip.AddrPort{} },
	} {
		id := h.identity()
		tweak(&id)
		if _, err := New(h.now, id, base); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New() = %v", name, err)
		}
	}
}
