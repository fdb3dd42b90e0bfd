package iceagent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// relayA is a's relay candidate: an allocation that b reaches directly.
var relayA = netip.MustParseAddrPort("192.0.2.10:49152")

func relay(a netip.AddrPort) stunmsg.Candidate {
	return stunmsg.NewCandidate(stunmsg.Relay, a, a, netip.AddrPort{}, 65535)
}

// pairWithRelay returns two agents with a direct pair (a's host to b's
// host) and a relayed one (a's relay candidate to b's host). The harness
// carries the relayed pair as if it were a direct one: what matters here
// is that it is a second, independent path.
func pairWithRelay(t *testing.T) *lockstep {
	return agentsWithRelay(t, ice.Controlling, rand.New(rand.NewPCG(7, 7)))
}

// agentsWithRelay builds the two agents of pairWithRelay, a in aRole.
func agentsWithRelay(t *testing.T, aRole ice.Role, rng *rand.Rand) *lockstep {
	ca, cb := ice.NewCredentials(rng), ice.NewCredentials(rng)
	cfg := ice.Config{}.WithDefaults()
	a := New(t0, cfg, Params{Role: aRole, Local: ca, Remote: cb, TieBreaker: 2, TxTag: 1, Rand: rng})
	b := New(t0, cfg, Params{Role: otherRole(aRole), Local: cb, Remote: ca, TieBreaker: 1, TxTag: 2, Rand: rng})
	must(t, a.AddLocalCandidate(t0, host(addrA)))
	must(t, a.AddLocalCandidate(t0, relay(relayA)))
	must(t, b.AddLocalCandidate(t0, host(addrB)))
	must(t, a.AddRemoteCandidate(t0, host(addrB)))
	must(t, b.AddRemoteCandidate(t0, host(addrA)))
	must(t, b.AddRemoteCandidate(t0, relay(relayA)))
	return &lockstep{a: a, b: b, now: t0, deliver: true}
}

// busy keeps both sides on active timing until end.
func (l *lockstep) busy(t *testing.T, end time.Time) {
	for l.now.Before(end) {
		l.a.NotifyAppTraffic(l.now)
		l.b.NotifyAppTraffic(l.now)
		l.runUntil(t, minTime(end, l.now.Add(time.Second)))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func touchesHostA(tx Transmit) bool { return tx.Src == addrA || tx.Dst == addrA }

func TestADeadDirectPathMovesToTheRelayedPairWithinSwitchAfterInsteadOfFailing(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	for i, ag := range []*Agent{l.a, l.b} {
		p, ok := ag.Selected()
		if !ok || p.ThroughOurRelay() || (i == 0 && p.Src() != addrA) {
			t.Fatalf("agent %d: selected %v (%v), want the direct pair", i, p, ok)
		}
	}
	if s := l.a.Stats(); s.ProbesSent == 0 || l.a.backup() == nil {
		t.Fatalf("no backup after 20 s (stats %+v)", s)
	}
	cut := l.now
	l.block = touchesHostA
	l.busy(t, cut.Add(2*time.Minute))
	for i, ag := range []*Agent{l.a, l.b} {
		if ag.Failure() != 0 {
			t.Fatalf("agent %d failed with %v although the relayed pair works", i, ag.Failure())
		}
		p, _ := ag.Selected()
		if (i == 0 && p.Src() != relayA) || (i == 1 && p.Dst() != relayA) {
			t.Fatalf("agent %d is on %v, want the relayed pair", i, p)
		}
	}
	// The controlling side switches SwitchAfter after its first unanswered
	// probe (at most one ProbeInterval after the cut); the controlled one
	// follows its nomination at once.
	cfg := ice.DefaultConfig()
	bound := cut.Add(cfg.ProbeInterval + cfg.SwitchAfter).Sub(t0).Milliseconds()
	for i := range l.events {
		at := int64(-1)
		for k, e := range l.events[i] {
			if e.Kind == EventPathChanged && l.evAt[i][k] >= cut.Sub(t0).Milliseconds() {
				at = l.evAt[i][k]
				break
			}
		}
		if at < 0 || at > bound {
			t.Fatalf("agent %d: PathChanged at %d ms, want by %d ms; events %v", i, at, bound, l.events[i])
		}
	}
	if s := l.a.Stats(); s.Switches != 1 {
		t.Fatalf("%d switches, want 1", s.Switches)
	}
}

func TestWithoutAWorkingBackupADeadPathStillFailsExactlyAtProbeTimeout(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	l.deliver = false // every path dies
	cut := l.now
	l.busy(t, cut.Add(time.Minute))
	if l.a.Failure() != ice.ProbeTimeout {
		t.Fatalf("failure %v, want ProbeTimeout", l.a.Failure())
	}
	evs := l.events[0]
	last := evs[len(evs)-1]
	if last.Kind != EventFailed {
		t.Fatalf("last event %+v", last)
	}
	// The backup answered before the cut too, so the agent may move to it
	// (its answers are just as old); the connection still fails within
	// ProbeTimeout of the last answer before the cut.
	if at := l.evAt[0][len(evs)-1]; at > cut.Add(ice.DefaultConfig().ProbeTimeout).Sub(t0).Milliseconds() {
		t.Fatalf("failed at %d ms, later than ProbeTimeout after the cut at %d ms", at, cut.Sub(t0).Milliseconds())
	}
}

func TestADeadBackupIsNotSwitchedToAndLeavesNoDeadlineBehind(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	l.block = func(tx Transmit) bool { return tx.Src == relayA || tx.Dst == relayA }
	l.busy(t, t0.Add(80*time.Second)) // the backup's last answer expires
	l.deliver = false
	cut := l.now
	l.busy(t, cut.Add(time.Minute))
	if l.a.Failure() != ice.ProbeTimeout || l.a.Stats().Switches != 0 {
		t.Fatalf("failure %v after %d switches, want ProbeTimeout and none", l.a.Failure(), l.a.Stats().Switches)
	}
}

// A USE-CANDIDATE check on a lower-priority pair that arrives after the
// controlled side selected a better nominated pair (a probe of the relayed
// pair sent before the peer moved to the direct one, delayed on the longer
// path) must not move it back: RFC 8445 8.1.1, the controlled agent uses
// the highest-priority nominated pair.
func TestAStaleNominationOfALowerPairDoesNotMoveTheControlledSideBack(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(5*time.Second))
	p, ok := l.b.Selected()
	if !ok || p.ThroughOurRelay() || p.Dst() != addrA {
		t.Fatalf("b selected %v (%v), want the direct pair", p, ok)
	}
	relayed := l.a.findPair(relayA, addrB)
	if relayed == nil || l.b.findPair(addrB, relayA).state != succeeded {
		t.Fatal("the relayed pair is not known to both sides as succeeded")
	}
	before := len(l.events[1])
	tx := Transmit{Src: relayA, Dst: addrB, Payload: l.a.request(l.a.newTxID(), relayed, true)}
	deliver(t, l.now, l.b, tx)
	// Answered all the same (a has forgotten the transaction: drop it).
	if r, ok := l.b.PollTransmit(); !ok || r.Dst != relayA || isRequest(r.Payload) {
		t.Fatalf("b sent %v (%v), want an answer to the relay", r, ok)
	}
	l.flush(t)
	if p, _ := l.b.Selected(); p.Dst() != addrA {
		t.Fatalf("b moved to %v on a stale nomination; events %v", p, l.events[1][before:])
	}
	l.busy(t, l.now.Add(10*time.Second))
	for _, e := range l.events[1][before:] {
		if e.Kind == EventPathChanged {
			t.Fatalf("b changed path: %v", l.events[1][before:])
		}
	}
}

// Going idle lengthens the timeout a backup's answer must fall within, and
// may thereby make the switch due at the very instant: the switch must
// happen then, not leave a deadline in the past behind.
func TestASwitchMadeDueByGoingIdleHappensInTheSameTimeout(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	a, now, cfg := l.a, l.now, ice.DefaultConfig()
	b := a.backup()
	if b == nil || a.live.idle {
		t.Fatal("want active timing with a backup")
	}
	// The selected pair last answered 9 s ago and has been silent since a
	// probe 8 s ago; the backup last answered 16 s ago, too long for the
	// active timeout but not for the idle one; the application has just
	// been quiet for IdleAfter.
	a.live.heardAt = now.Add(-9 * time.Second)
	a.live.unansweredSince = now.Add(-8 * time.Second)
	a.live.lastApp = now.Add(-cfg.IdleAfter)
	b.answeredAt = now.Add(-16 * time.Second)
	a.HandleTimeout(now)
	if a.Failure() != 0 || a.Stats().Switches != 1 {
		t.Fatalf("failure %v after %d switches, want a switch", a.Failure(), a.Stats().Switches)
	}
	if d, reason, ok := a.PollTimeout(); ok && !d.After(now) {
		t.Fatalf("deadline %s at %v stays due after HandleTimeout at %v", reason, d.Sub(t0), now.Sub(t0))
	}
}

// While the controlling side nominates a higher pair, the controlled side
// may already have followed it, and its answers may be slow to come back
// (a saturated send buffer holds them for seconds). The probes of the
// controlling side's selected pair must then stop repeating its
// nomination: the controlled side, its new pair silent for a while, would
// take the repeated USE-CANDIDATE for a failover and move back, then
// forward again with the next retransmission of the nomination (the
// simulator found a connection changing path every two seconds). And a
// nomination that goes unanswered through every retransmission is tried
// again only after RecheckInterval, not at once: otherwise a nomination is
// always in flight, and the controlled side still moves back (by its own
// switch to the backup) and forward every round.
func TestTheSelectedPairIsNotReNominatedWhileAHigherNominationIsInFlight(t *testing.T) {
	l := pairWithRelay(t)
	l.block = touchesHostA // the direct path opens only later
	l.busy(t, t0.Add(5*time.Second))
	if p, ok := l.b.Selected(); !ok || p.Dst() != relayA {
		t.Fatalf("b selected %v (%v), want the relayed pair", p, ok)
	}
	// The direct path opens, except that while a nominates it, the answers
	// to a's nomination are lost, and so are a's answers to b once b has
	// followed (b's new pair goes silent).
	l.block = func(tx Transmit) bool {
		if l.a.nominating == nil || isRequest(tx.Payload) || !touchesHostA(tx) {
			return false
		}
		if tx.Src == addrB {
			return true
		}
		p, _ := l.b.Selected()
		return p.Dst() == addrA
	}
	before := len(l.events[1])
	var start time.Time
	for end := l.now.Add(40 * time.Second); l.now.Before(end) && start.IsZero(); {
		l.busy(t, l.now.Add(100*time.Millisecond))
		if l.a.nominating != nil {
			start = l.now
		}
	}
	if start.IsZero() {
		t.Fatal("a never nominated the direct pair")
	}
	// Until just before b's own switch to its backup could be due, b moves
	// once: to the nominated direct pair.
	for end := start.Add(l.a.cfg.SwitchAfter - time.Second); l.now.Before(end) && l.a.nominating != nil; {
		l.busy(t, l.now.Add(100*time.Millisecond))
	}
	changes := pathChanges(l.events[1][before:])
	if len(changes) != 1 || changes[0].Path.Dst() != addrA {
		t.Fatalf("b's path changes while a nominated the direct pair: %v, want one, to the direct pair", changes)
	}
	// Over the next three minutes a tries the nomination again at most once
	// per RecheckInterval after each failure, and b, which follows each try
	// and falls back by its own switch, moves a bounded number of times per
	// try.
	window := 3 * time.Minute
	attempts, nominating := 0, true
	for end := l.now.Add(window); l.now.Before(end); {
		l.busy(t, l.now.Add(100*time.Millisecond))
		if now := l.a.nominating != nil; now != nominating {
			if now {
				attempts++
			}
			nominating = now
		}
	}
	if most := int(window / l.a.cfg.RecheckInterval); attempts > most {
		t.Fatalf("a nominated the direct pair %d times in %v, want at most %d (once per RecheckInterval)", attempts, window, most)
	}
	if n := len(pathChanges(l.events[1][before:])); n > 4*(attempts+1) {
		t.Fatalf("b changed path %d times over %d nominations", n, attempts+1)
	}
	if l.a.Stats().NominationsFailed == 0 {
		t.Fatal("no failed nomination counted")
	}
}

func pathChanges(evs []Event) []Event {
	var out []Event
	for _, e := range evs {
		if e.Kind == EventPathChanged {
			out = append(out, e)
		}
	}
	return out
}

// A failover is not for ever: once the pair it left answers again, the
// rechecks move the connection back to it (both sides), within about
// RecheckInterval.
func TestAfterAFailoverTheConnectionMovesBackOnceTheBetterPathHeals(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	l.block = touchesHostA
	l.busy(t, l.now.Add(20*time.Second))
	for i, ag := range []*Agent{l.a, l.b} {
		if p, _ := ag.Selected(); (i == 0 && p.Src() != relayA) || (i == 1 && p.Dst() != relayA) {
			t.Fatalf("agent %d is on %v after the cut, want the relayed pair", i, p)
		}
	}
	l.block = nil
	healed := l.now
	l.busy(t, healed.Add(l.a.cfg.RecheckInterval+10*time.Second))
	for i, ag := range []*Agent{l.a, l.b} {
		if p, _ := ag.Selected(); p.ThroughOurRelay() || (i == 0 && p.Src() != addrA) || (i == 1 && p.Dst() != addrA) {
			t.Fatalf("agent %d is on %v %v after the direct path healed, want the direct pair; events %v",
				i, p, l.now.Sub(healed), l.events[i])
		}
	}
}
