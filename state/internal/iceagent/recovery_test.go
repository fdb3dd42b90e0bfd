package iceagent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// relayA2 is a's relay candidate after a re-allocation: a new relayed
// address on the same server.
var relayA2 = netip.MustParseAddrPort("192.0.2.10:49400")

// relayOnly returns two agents whose only working path goes through a's
// relay candidate: the direct pair between the hosts is blocked, as
// between two symmetric NATs. a's role is aRole, b's the other.
func relayOnly(t *testing.T, aRole ice.Role) *lockstep {
	l := agentsWithRelay(t, aRole, rand.New(rand.NewPCG(9, 9)))
	l.block = touchesHostA
	l.busy(t, t0.Add(5*time.Second))
	for i, ag := range []*Agent{l.a, l.b} {
		p, ok := ag.Selected()
		if !ok || (i == 0 && p.Src() != relayA) || (i == 1 && p.Dst() != relayA) {
			t.Fatalf("agent %d selected %v (%v), want the relayed pair", i, p, ok)
		}
	}
	return l
}

// reallocate replaces a's relay candidate as a TURN re-allocation does: a
// loses the old one, b is told by signalling, and a gets the new one
// gap later (the Allocate round trips). b learns the new address from a's
// checks; signalling it is left to the caller.
func (l *lockstep) reallocate(t *testing.T, gap time.Duration) {
	if !l.a.RemoveLocalCandidate(l.now, relayA, ice.RelayLost) || !l.b.RemoveRemoteCandidate(l.now, relayA) {
		t.Fatal("the relay candidate was not known")
	}
	l.flush(t)
	l.busy(t, l.now.Add(gap))
	must(t, l.a.AddLocalCandidate(l.now, relay(relayA2)))
}

// eventsSince returns the kinds of agent i's events from instant on.
func (l *lockstep) eventsSince(i int, from time.Time) []Event {
	var out []Event
	for k, e := range l.events[i] {
		if l.evAt[i][k] >= from.Sub(t0).Milliseconds() {
			out = append(out, e)
		}
	}
	return out
}

func TestARelayOnlyConnectionIsCarriedOverToTheReallocatedRelayCandidateInBothRoles(t *testing.T) {
	for _, role := range []ice.Role{ice.Controlling, ice.Controlled} {
		t.Run("relay side "+role.String(), func(t *testing.T) {
			l := relayOnly(t, role)
			lostAt := l.now
			l.reallocate(t, 100*time.Millisecond)
			if !l.a.Recovering() && l.a.Failure() == 0 {
				t.Fatal("a neither recovers nor failed")
			}
			l.busy(t, l.now.Add(5*time.Second))
			for i, ag := range []*Agent{l.a, l.b} {
				if ag.Failure() != 0 {
					t.Fatalf("agent %d failed with %v; events %v", i, ag.Failure(), l.eventsSince(i, lostAt))
				}
				p, ok := ag.Selected()
				if !ok || (i == 0 && p.Src() != relayA2) || (i == 1 && p.Dst() != relayA2) {
					t.Fatalf("agent %d is on %v (%v), want the new relayed pair", i, p, ok)
				}
				evs := l.eventsSince(i, lostAt)
				if len(evs) != 2 || evs[0].Kind != EventPathLost || evs[0].Reason != ice.RelayLost ||
					evs[1].Kind != EventPathChanged || evs[1].Path != p {
					t.Fatalf("agent %d events %v, want PathLost(RelayLost) then PathChanged to %v", i, evs, p)
				}
				if ag.Recovering() || ag.Stats().Recoveries != 1 {
					t.Fatalf("agent %d: recovering %v, %d recoveries", i, ag.Recovering(), ag.Stats().Recoveries)
				}
			}
			// The new path is probed and kept like the first one was.
			before := l.a.Stats().ProbesAnswered
			l.busy(t, l.now.Add(30*time.Second))
			if l.a.Failure() != 0 || l.b.Failure() != 0 || l.a.Stats().ProbesAnswered <= before {
				t.Fatalf("after the move: failures %v %v, probes answered %d -> %d",
					l.a.Failure(), l.b.Failure(), before, l.a.Stats().ProbesAnswered)
			}
		})
	}
}

// A cut of every path must be reported no later than ProbeTimeout after
// the last answer, whatever the connection loses meanwhile: recovery runs
// on the lost path's clock, and checks of new pairs that all fail first do
// not end it with ChecksFailed (the replacement may still be on its way).
func TestARecoveryThatFindsNoPathFailsWithRelayLostExactlyAtTheLostPathsProbeTimeout(t *testing.T) {
	l := relayOnly(t, ice.Controlling)
	// Cut right after a probe was answered, so that the new pair's checks
	// (13.75 s of retransmissions) give up before the probe timeout.
	l.runUntil(t, l.a.live.nextProbe)
	heard := [2]time.Time{l.a.live.heardAt, l.b.live.heardAt}
	if !heard[0].Equal(l.now) {
		t.Fatalf("a last heard at %v, want now (%v)", heard[0].Sub(t0), l.now.Sub(t0))
	}
	l.deliver = false
	l.reallocate(t, 0)
	// The application keeps sending meanwhile (busy).
	l.busy(t, l.now.Add(time.Minute))
	cfg := ice.DefaultConfig()
	for i, ag := range []*Agent{l.a, l.b} {
		evs := l.events[i]
		last, at := evs[len(evs)-1], l.evAt[i][len(evs)-1]
		want := heard[i].Add(cfg.ProbeTimeout).Sub(t0).Milliseconds()
		if ag.Failure() != ice.RelayLost || last.Kind != EventFailed || at != want {
			t.Fatalf("agent %d: last event %+v at %d ms, want Failed(RelayLost) at %d ms", i, last, at, want)
		}
	}
	if s := l.a.Stats(); s.ChecksSent == 0 {
		t.Fatal("a never checked the new relay candidate")
	}
}

func TestWithRecoveryOffALostPathWithoutASucceededPairFailsAtOnce(t *testing.T) {
	l := relayOnly(t, ice.Controlling)
	l.a.SetRecovery(l.now, false, ice.RelayLost)
	if !l.a.RemoveLocalCandidate(l.now, relayA, ice.RelayLost) {
		t.Fatal("no relay candidate")
	}
	if l.a.Failure() != ice.RelayLost || l.a.Recovering() {
		t.Fatalf("failure %v recovering %v, want RelayLost at once", l.a.Failure(), l.a.Recovering())
	}
	// The peer recovers, and turning recovery off there fails it too.
	l.b.RemoveRemoteCandidate(l.now, relayA)
	if !l.b.Recovering() {
		t.Fatal("b does not recover")
	}
	if !l.b.SetRecovery(l.now, false, ice.RelayLost) || l.b.Failure() != ice.RelayLost {
		t.Fatalf("b failure %v after recovery was turned off", l.b.Failure())
	}
	if _, _, ok := l.b.PollTimeout(); ok {
		t.Fatal("a failed agent keeps a deadline")
	}
}

// On idle timing the lost path's timeout is IdleProbeTimeout, and
// application data arriving while recovering must not switch to active
// timing and count the timeout from now: that would report a cut of every
// path later than IdleProbeTimeout after the last answer.
func TestTrafficWhileRecoveringOnIdleTimingDoesNotPostponeTheFailure(t *testing.T) {
	l := relayOnly(t, ice.Controlling)
	l.runUntil(t, l.now.Add(30*time.Second)) // quiet: idle timing
	if !l.a.Idle() {
		t.Fatal("a is not idle")
	}
	heard := l.a.live.heardAt
	l.deliver = false
	l.reallocate(t, 0)
	cfg := ice.DefaultConfig()
	l.runUntil(t, heard.Add(cfg.IdleProbeTimeout-10*time.Second))
	l.a.NotifyAppTraffic(l.now)
	l.runUntil(t, heard.Add(cfg.IdleProbeTimeout+time.Minute))
	evs := l.events[0]
	last, at := evs[len(evs)-1], l.evAt[0][len(evs)-1]
	if want := heard.Add(cfg.IdleProbeTimeout).Sub(t0).Milliseconds(); last.Kind != EventFailed || at != want {
		t.Fatalf("last event %+v at %d ms, want Failed at %d ms", last, at, want)
	}
}

func isNomination(tx Transmit) bool {
	var m stun.Message
	return stunmsg.Decode(tx.Payload, &m) == nil && stunmsg.IsBindingRequest(&m) && m.Contains(stun.AttrUseCandidate)
}

// A pair waiting out a failed nomination does not keep a recovering
// connection from the pairs below it: the direct pair's nomination fails
// (no nomination for RecheckInterval, 30 s), then a's relay allocation is
// replaced. The direct pair revives from b's checks and the new relay
// pair works, but the direct pair may not be nominated before the
// recovery's deadline; the new relay pair must be (the connection used to
// fail with RelayLost, two pairs working).
func TestAFailedNominationsWaitDoesNotKeepARecoveringConnectionFromAWorkingPair(t *testing.T) {
	l := pairWithRelay(t)
	phase := 0
	l.block = func(tx Transmit) bool {
		switch phase {
		case 0:
			return touchesHostA(tx)
		case 1:
			return tx.Src == addrA && isNomination(tx)
		}
		return tx.Src == relayA || tx.Dst == relayA
	}
	l.busy(t, t0.Add(25*time.Second))
	if p, _ := l.a.Selected(); p.Src() != relayA {
		t.Fatalf("a on %v", p)
	}
	phase = 1
	for l.a.Stats().NominationsFailed == 0 && l.now.Before(t0.Add(120*time.Second)) {
		l.a.NotifyAppTraffic(l.now)
		l.b.NotifyAppTraffic(l.now)
		l.runUntil(t, l.now.Add(10*time.Millisecond))
	}
	phase = 2 // everything but the old relay address works from now on
	lost := l.now
	if !l.a.RemoveLocalCandidate(l.now, relayA, ice.RelayLost) || !l.b.RemoveRemoteCandidate(l.now, relayA) {
		t.Fatal("no relayA")
	}
	l.flush(t)
	l.busy(t, l.now.Add(2*time.Second))
	must(t, l.a.AddLocalCandidate(l.now, relay(relayA2)))
	l.busy(t, l.now.Add(20*time.Second))
	if l.a.Failure() != 0 || l.a.Recovering() {
		t.Fatalf("a failed with %v (recovering %v) at %v, lost at %v, although the direct and new relay pairs work",
			l.a.Failure(), l.a.Recovering(), l.now.Sub(t0), lost.Sub(t0))
	}
}

// A recovery keeps checking until its deadline: on idle timing (the lost
// path's timeout is 60 s) a 17 s outage from the re-allocation on fails
// every check of the new pair (a schedule lasts 15.75 s). The path works
// again after it; with nothing checking any more (rechecks need a
// selected pair) the connection used to fail, where an idle path without
// the re-allocation survives the same outage.
func TestARecoveryChecksAgainAfterAnOutageLongerThanOneCheckSchedule(t *testing.T) {
	l := relayOnly(t, ice.Controlling)
	l.runUntil(t, l.now.Add(30*time.Second))
	if !l.a.Idle() {
		t.Fatal("not idle")
	}
	heard := l.a.live.heardAt
	lost := l.now
	l.deliver = false
	l.reallocate(t, 100*time.Millisecond)
	l.runUntil(t, lost.Add(17*time.Second))
	l.deliver = true
	l.runUntil(t, heard.Add(90*time.Second))
	if l.a.Failure() != 0 || l.b.Failure() != 0 || l.a.Recovering() {
		t.Fatalf("a %v, b %v (a recovering %v), although the path works from %v on",
			l.a.Failure(), l.b.Failure(), l.a.Recovering(), lost.Add(17*time.Second).Sub(t0))
	}
}

// When the selected pair goes away after falling silent, the agent does
// not move to a pair whose last answer is older than the silence: a
// restarted TURN server takes every allocation on it, and such a pair is
// likely just as dead (the simulator showed a useless PathChanged onto
// the peer's old relayed address). It re-checks that pair in recovery and
// moves once it answers.
func TestALostPathIsNotReplacedByAPairThatLastAnsweredBeforeTheSilence(t *testing.T) {
	l := pairWithRelay(t)
	l.busy(t, t0.Add(20*time.Second))
	if p, _ := l.a.Selected(); p.ThroughOurRelay() {
		t.Fatalf("a is on %v, want the direct pair", p)
	}
	l.deliver = false
	l.busy(t, l.now.Add(3*time.Second)) // the direct path falls silent
	before := len(l.events[0])
	if !l.a.RemoveLocalCandidate(l.now, addrA, ice.RelayLost) {
		t.Fatal("no host candidate")
	}
	l.flush(t)
	if changes := pathChanges(l.events[0][before:]); len(changes) != 0 || !l.a.Recovering() {
		t.Fatalf("a moved to %v (recovering %v) on a pair that last answered before the silence", changes, l.a.Recovering())
	}
	// The relayed path works again; the direct one stays dead (and b's
	// checks toward it do not recreate a's host candidate).
	l.deliver, l.block = true, touchesHostA
	l.busy(t, l.now.Add(5*time.Second))
	if p, ok := l.a.Selected(); !ok || p.Src() != relayA || l.a.Recovering() {
		t.Fatalf("a is on %v (%v, recovering %v) once the relayed pair answers again", p, ok, l.a.Recovering())
	}
}

// A working backup is moved to at once when the silent selected path goes
// away, though its last scheduled probe (every BackupProbeInterval) was
// before the silence: the first lost probe of the selected pair probes the
// backup at once. The controlled side, which cannot nominate, would
// otherwise wait without a path for the peer's own switch (6-7 s in a
// review's scratch test).
func TestASilentPathThatGoesAwayIsReplacedByAWorkingBackupAtOnce(t *testing.T) {
	for _, role := range []ice.Role{ice.Controlling, ice.Controlled} {
		l := agentsWithRelay(t, role, rand.New(rand.NewPCG(7, 7)))
		l.busy(t, t0.Add(20*time.Second))
		if p, _ := l.a.Selected(); p.ThroughOurRelay() {
			t.Fatalf("%v: a is on %v, want the direct pair", role, p)
		}
		// The direct path falls silent; the relayed backup keeps working.
		// The path goes away just after its first probe counts as lost.
		l.block = touchesHostA
		lost := l.a.Stats().ProbesLost
		for end := l.now.Add(5 * time.Second); l.a.Stats().ProbesLost == lost && l.now.Before(end); {
			l.busy(t, l.now.Add(10*time.Millisecond))
		}
		l.busy(t, l.now.Add(100*time.Millisecond))
		before := len(l.events[0])
		if !l.a.RemoveLocalCandidate(l.now, addrA, ice.RelayLost) {
			t.Fatal("no host candidate")
		}
		l.flush(t)
		changes := pathChanges(l.events[0][before:])
		if len(changes) == 0 || changes[0].Path.Src() != relayA || l.a.Recovering() {
			t.Fatalf("%v: a changes %v (recovering %v), want a move to the relayed backup at once", role, changes, l.a.Recovering())
		}
	}
}

// Recovery checks again the pairs that failed before it began: the direct
// path, blocked when the connection fell back to the relay, may have
// opened since, and nothing else would check it before the timeout (the
// rechecks need a selected pair).
func TestARecoveryChecksAgainThePairsThatFailedBeforeIt(t *testing.T) {
	l := relayOnly(t, ice.Controlling)
	l.busy(t, t0.Add(20*time.Second)) // the direct checks run out; the recheck is 10 s away
	if p := l.a.findPair(addrA, addrB); p == nil || p.state != failedState {
		t.Fatalf("direct pair %v, want failed", p)
	}
	// The direct path has opened; the relay is gone.
	l.block = func(tx Transmit) bool { return tx.Src == relayA || tx.Dst == relayA }
	if !l.a.RemoveLocalCandidate(l.now, relayA, ice.RelayLost) {
		t.Fatal("no relay candidate")
	}
	l.busy(t, l.now.Add(5*time.Second))
	if p, ok := l.a.Selected(); !ok || p.ThroughOurRelay() || l.a.Recovering() || l.a.Failure() != 0 {
		t.Fatalf("a is on %v (%v), recovering %v, failure %v; want the direct pair", p, ok, l.a.Recovering(), l.a.Failure())
	}
}
