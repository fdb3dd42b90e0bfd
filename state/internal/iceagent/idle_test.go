package iceagent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerlink/peerlink/state/ice"
)

// idlePair connects a and b in lock-step and runs them until a has been on
// idle timing for a while; it returns the harness and when a sent its last
// probe (answered).
func idlePair(t *testing.T) (*lockstep, int64) {
	t.Helper()
	a, b := newPair(t, ice.Config{})
	l := &lockstep{a: a, b: b, now: t0, deliver: true}
	l.runUntil(t, t0.Add(60*time.Second))
	if !a.Idle() || len(l.aSent) == 0 {
		t.Fatalf("not idle after a minute (idle=%v)", a.Idle())
	}
	return l, l.aSent[len(l.aSent)-1].ms
}

func sentTimes(s []sent) []int64 {
	var out []int64
	for _, x := range s {
		out = append(out, x.ms)
	}
	return out
}

func TestAnUnansweredIdleProbeIsFollowedUpEveryIntervalUntilTheIdleTimeout(t *testing.T) {
	l, last := idlePair(t)
	l.aSent, l.deliver = nil, false // the path dies after the last answer
	l.runUntil(t, t0.Add(3*time.Minute))
	// The next idle probe 25 s after the answered one, the first follow-up
	// ProbeLossAfter (1.5 s) later, then one every ProbeInterval (1.5 s),
	// until IdleProbeTimeout (60 s) after the last answer.
	var want []int64
	for ms := last + 25000; ms < last+60000; ms += 1500 {
		want = append(want, ms)
	}
	if diff := cmp.Diff(want, sentTimes(l.aSent)); diff != "" {
		t.Fatalf("probe schedule (-want +got):\n%s", diff)
	}
	evs := l.events[0]
	if e := evs[len(evs)-1]; e.Reason != ice.ProbeTimeout || l.evAt[0][len(evs)-1] != last+60000 {
		t.Fatalf("last event %+v at %d ms, want ProbeTimeout at %d ms", e, l.evAt[0][len(evs)-1], last+60000)
	}
}

func TestALostIdleProbeIsRetriedAndTheIdleScheduleResumesOnceAnswered(t *testing.T) {
	l, last := idlePair(t)
	l.aSent, l.deliver = nil, false
	// Two probes in a row are lost: the idle one and the first follow-up.
	l.runUntil(t, t0.Add(time.Duration(last+26600)*time.Millisecond))
	l.deliver = true
	l.runUntil(t, t0.Add(time.Duration(last+120000)*time.Millisecond))
	want := []int64{last + 25000, last + 26500, last + 28000, last + 53000, last + 78000, last + 103000}
	if diff := cmp.Diff(want, sentTimes(l.aSent)); diff != "" {
		t.Fatalf("probe schedule (-want +got):\n%s", diff)
	}
	if l.a.Failure() != 0 {
		t.Fatalf("a working path failed with %v", l.a.Failure())
	}
	if s := l.a.Stats(); s.ProbesLost != 2 {
		t.Fatalf("%d probes counted lost, want 2", s.ProbesLost)
	}
}
