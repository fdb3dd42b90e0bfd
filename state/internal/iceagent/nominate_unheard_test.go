package iceagent

import (
	"github.com/peerlink/peerlink/state/ice"
	"math/rand/v2"
	"testing"
	"time"
)

// The simulator found this world (tests/sim, P3): the controlling side a
// selects a relayed pair, then nominates a better one; the controlled side
// b follows at once (the pair had succeeded for it too), just as its own
// load saturates its slow uplink, so that everything b sends, its answer
// to the nomination included, waits there longer than a check lives. a's
// nomination gave up, the probes of a's old pair carried USE-CANDIDATE
// again, and b, its new pair silent, took that for a failover and moved
// back 14 s after leaving. Silence on every pair says nothing about the
// nominated one: a sends the nomination again, and its late answer
// selects the pair. b moves once, and both end on the same pair.
func TestANominationUnansweredWhileThePeerAnswersNothingIsSentAgainAndTheControlledSideDoesNotMoveBack(t *testing.T) {
	const delay = 20 * time.Second
	rng := rand.New(rand.NewPCG(7, 7))
	ca, cb := ice.NewCredentials(rng), ice.NewCredentials(rng)
	// Probes must outlive the delay, or both sides fail; and a switch to
	// the backup waits past it, as it must on such an uplink (the
	// simulator's worlds add the worst round trip to SwitchAfter), or b
	// moves back by its own switch.
	cfg := ice.Config{ProbeTimeout: 2 * delay, SwitchAfter: delay + 5*time.Second}.WithDefaults()
	a := New(t0, cfg, Params{Role: ice.Controlling, Local: ca, Remote: cb, TieBreaker: 2, TxTag: 1, Rand: rng})
	b := New(t0, cfg, Params{Role: ice.Controlled, Local: cb, Remote: ca, TieBreaker: 1, TxTag: 2, Rand: rng})
	must(t, a.AddLocalCandidate(t0, host(addrA)))
	must(t, a.AddLocalCandidate(t0, relay(relayA)))
	must(t, b.AddLocalCandidate(t0, host(addrB)))
	must(t, a.AddRemoteCandidate(t0, host(addrB)))
	must(t, b.AddRemoteCandidate(t0, host(addrA)))
	must(t, b.AddRemoteCandidate(t0, relay(relayA)))

	s := &slowUplink{ag: [2]*Agent{a, b}, now: t0, delay: delay}
	// The direct path is closed until open; from the moment a nominates
	// it, having checked it both ways, everything b sends waits delay.
	open, slow := false, false
	s.route = func(from int, tx Transmit) (time.Duration, bool) {
		if !open && touchesHostA(tx) {
			return 0, true
		}
		slow = slow || (a.nominating != nil && a.nominating.local.Base == addrA && directSucceeded(b))
		if from == 1 && slow {
			return delay, false
		}
		return 0, false
	}
	busy := func(end time.Time) {
		for s.now.Before(end) {
			a.NotifyAppTraffic(s.now)
			b.NotifyAppTraffic(s.now)
			s.runUntil(t, minTime(end, s.now.Add(100*time.Millisecond)))
		}
	}
	busy(t0.Add(5 * time.Second))
	if p, ok := b.Selected(); !ok || p.Dst() != relayA {
		t.Fatalf("b selected %v (%v), want the relayed pair", p, ok)
	}
	open = true
	before := len(s.events[1])
	busy(s.now.Add(cfg.RecheckInterval + 3*delay))
	if !slow {
		t.Fatal("a never nominated the direct pair once b had checked it")
	}

	t.Logf("a: %v at %v; b: %v at %v", s.events[0], s.evAt[0], s.events[1], s.evAt[1])
	changes := pathChanges(s.events[1][before:])
	if len(changes) != 1 || changes[0].Path.Dst() != addrA {
		t.Fatalf("b's path changes after the direct path opened: %v, want one, to the direct pair", changes)
	}
	pa, okA := a.Selected()
	if !okA || pa.Local.Addr != addrA || pa.Dst() != addrB {
		t.Fatalf("a ends on %v (%v), want the direct pair b is on", pa, okA)
	}
	st := a.Stats()
	if st.NominationsRetried == 0 || st.NominationsFailed != 0 {
		t.Fatalf("a's nominations: %d retried, %d failed; want the silent one retried, none failed", st.NominationsRetried, st.NominationsFailed)
	}
}

// directSucceeded reports whether b's pair to a's host has succeeded.
func directSucceeded(b *Agent) bool {
	for _, p := range b.pairs {
		if p.remote.Addr == addrA && p.state == succeeded {
			return true
		}
	}
	return false
}
