package turn_test

import (
	"github.com/peerlink/peerlink/tests/internal/realturn"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
)

// refreshCycles is how many refreshes of the allocation, the permissions
// and the channels must pass while data flows.
const refreshCycles = 3

// surviveRefreshes streams datagrams both ways at 100 per second while the
// client refreshes everything every 1.5 s against server lifetimes of 5 s:
// a refresh that failed or came late would cut the flow, so every datagram
// must arrive and no silence may last longer than a few send intervals.
func surviveRefreshes(t *testing.T, srv *realturn.Server) {
	const (
		interval = 10 * time.Millisecond
		period   = 1500 * time.Millisecond
	)
	p := allocatePair(t, srv, func(c *turn.Config) {
		c.Lifetime = shortLifetime
		c.RefreshAfter = period
		c.PermissionLifetime, c.PermissionRefreshAfter = shortLifetime, period
		c.ChannelLifetime, c.ChannelRefreshAfter = shortLifetime, period
	})
	if p.lifetimeA > shortLifetime {
		t.Fatalf("%s granted %v for a requested %v", srv.Name, p.lifetimeA, shortLifetime)
	}
	// Long enough for refreshCycles periods after the channels were bound,
	// plus one for the slack of the first.
	n := int((refreshCycles + 1) * period / interval)
	start := time.Now()
	errs := make(chan error, 2)
	go func() { errs <- sendSequence(p.a, p.relayedB, n, interval) }()
	go func() { errs <- sendSequence(p.b, p.relayedA, n, interval) }()
	gotB := receiveSequence(t, p.b, p.relayedA, n, time.Duration(n)*interval+5*time.Second)
	gotA := receiveSequence(t, p.a, p.relayedB, n, 5*time.Second)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d datagrams each way over %v; longest silence %v (A) and %v (B)",
		srv.Name, n, time.Since(start), gotA.maxGap, gotB.maxGap)
	const maxGap = 250 * time.Millisecond
	if gotA.maxGap > maxGap || gotB.maxGap > maxGap {
		t.Errorf("%s: a gap of %v / %v in the data, want none over %v", srv.Name, gotA.maxGap, gotB.maxGap, maxGap)
	}
	for name, r := range map[string]*runner{"A": p.a, "B": p.b} {
		s := r.stats()
		t.Logf("%s %s: refreshes %d, permission refreshes %d, channel refreshes %d, stale nonces %d, reallocations %d",
			srv.Name, name, s.Refreshes, s.PermissionRefreshes, s.ChannelRefreshes, s.StaleNonces, s.Reallocations)
		if s.Refreshes < refreshCycles || s.PermissionRefreshes < refreshCycles || s.ChannelRefreshes < refreshCycles {
			t.Errorf("%s %s: fewer than %d refresh cycles: %+v", srv.Name, name, refreshCycles, s)
		}
		if s.Reallocations != 0 {
			t.Errorf("%s %s: the allocation was lost and replaced %d times", srv.Name, name, s.Reallocations)
		}
		if srv.StaleNonce > 0 && s.StaleNonces == 0 {
			t.Errorf("%s %s: no stale nonce in %v with a nonce lifetime of %v", srv.Name, name,
				time.Since(start), srv.StaleNonce)
		}
		if s.ChannelDataReceived != uint64(n) {
			t.Errorf("%s %s: %d ChannelData received, want %d", srv.Name, name, s.ChannelDataReceived, n)
		}
	}
}

// wrongPassword: the server's challenge is answered once with credentials;
// their rejection ends the client with LostAuth, and nothing is retried.
func wrongPassword(t *testing.T, srv *realturn.Server) {
	r := startRunner(t, testConfig(srv.Addr, realturn.User, "wrong"))
	e := r.waitEventOrLost(5 * time.Second)
	if e.Kind != turn.EventLost || e.Reason != turn.LostAuth {
		t.Fatalf("%s: got %+v, want EventLost with LostAuth", srv.Name, e)
	}
	time.Sleep(300 * time.Millisecond) // anything retried would show by now
	if n := r.signedAllocates.Load(); n != 1 {
		t.Fatalf("%s: %d signed Allocate requests, want exactly 1", srv.Name, n)
	}
	t.Logf("%s: authentication error %d after one signed attempt", srv.Name, e.Code)
}

// serverKilled: a relay whose server dies is reported lost within the next
// keepalive plus one request schedule.
func serverKilled(t *testing.T, srv *realturn.Server) {
	cfg := testConfig(srv.Addr, realturn.User, realturn.Password)
	r := startRunner(t, cfg)
	r.waitEvent(turn.EventAllocated, 5*time.Second)
	killed := time.Now()
	srv.Kill()
	bound := cfg.cfg.WithDefaults().LostWithin()
	e := r.waitEventOrLost(bound + 2*time.Second)
	took := time.Since(killed)
	if e.Kind != turn.EventLost || e.Reason != turn.LostTimeout {
		t.Fatalf("%s: got %+v, want EventLost with LostTimeout", srv.Name, e)
	}
	t.Logf("%s: relay lost %v after the kill (bound %v)", srv.Name, took, bound)
	// Allow for scheduling: the loop wakes a little after each deadline.
	if took > bound+200*time.Millisecond {
		t.Fatalf("%s: lost after %v, bound %v", srv.Name, took, bound)
	}
}

// waitEventOrLost returns the first EventLost or EventClosed within d,
// skipping others.
func (r *runner) waitEventOrLost(d time.Duration) turn.Event {
	r.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-r.events:
			if e.Kind == turn.EventLost || e.Kind == turn.EventClosed {
				return e
			}
		case <-timeout:
			r.t.Fatalf("no EventLost within %v", d)
		}
	}
}

// closeReleases: Close sends LIFETIME 0, which the server acknowledges.
func closeReleases(t *testing.T, srv *realturn.Server) {
	r := startRunner(t, testConfig(srv.Addr, realturn.User, realturn.Password))
	r.waitEvent(turn.EventAllocated, 5*time.Second)
	start := time.Now()
	_ = r.do(func(c *turn.Client, now time.Time) error { c.Close(now); return nil })
	if e := r.waitEventOrLost(2 * time.Second); e.Kind != turn.EventClosed {
		t.Fatalf("%s: got %+v, want EventClosed", srv.Name, e)
	}
	// Acknowledged, not timed out: well within one request schedule.
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("%s: release took %v; the server did not answer LIFETIME 0", srv.Name, took)
	}
}

func TestPionCloseReleasesTheAllocation(t *testing.T) {
	closeReleases(t, realturn.Pion(t, realturn.PionConfig{}))
}
func TestCoturnCloseReleasesTheAllocation(t *testing.T) {
	closeReleases(t, realturn.Coturn(t, coturnConfig()))
}
