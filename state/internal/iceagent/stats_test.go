package iceagent

import (
	"github.com/peerlink/peerlink/state/ice"
	"testing"
	"time"
)

// probeExchange lets a send its next due probe at its deadline and, unless
// rtt is negative, answers it from b after rtt. It returns the time the
// exchange ended and the probe, for a late delivery.
func probeExchange(t *testing.T, a, b *Agent, rtt time.Duration) (time.Time, Transmit) {
	t.Helper()
	// The probe's deadline is the agent's next one; another timer may
	// share the instant and lend it its reason.
	d, reason, ok := a.PollTimeout()
	if pd, on := a.probeDeadline(); !ok || !on || !pd.Equal(d) {
		t.Fatalf("next deadline %v %q, want a probe", d.Sub(t0), reason)
	}
	a.HandleTimeout(d)
	tx, ok := a.PollTransmit()
	if !ok {
		t.Fatal("no probe at its deadline")
	}
	if _, more := a.PollTransmit(); more {
		t.Fatal("more than one transmit at a probe deadline")
	}
	if rtt < 0 {
		return d, tx
	}
	answer(t, a, b, d.Add(rtt/2), d.Add(rtt), tx)
	return d.Add(rtt), tx
}

// answer delivers request tx to b at bAt and b's answer to a at aAt.
func answer(t *testing.T, a, b *Agent, bAt, aAt time.Time, tx Transmit) {
	t.Helper()
	deliver(t, bAt, b, tx)
	resp, ok := b.PollTransmit()
	if !ok {
		t.Fatal("b did not answer")
	}
	deliver(t, aAt, a, resp)
}

func TestStatsCountAnsweredLostAndLateProbesAndSmoothTheirRTT(t *testing.T) {
	a, b := newPair(t, ice.Config{})
	l := &lockstep{a: a, b: b, now: t0, deliver: true}
	l.runUntil(t, t0.Add(time.Second))
	a.NotifyAppTraffic(l.now)
	s := a.Stats()
	if !s.HasPath || s.Path.Dst() != addrB || s.ChecksSent == 0 || s.ChecksAnswered != s.ChecksSent {
		t.Fatalf("after connecting: %+v", s)
	}
	// Lock-step delivery takes no time: every sample so far is zero.
	if s.SmoothedRTT != 0 || s.RTTSamples != s.ChecksAnswered {
		t.Fatalf("zero-latency checks gave SRTT %v from %d samples", s.SmoothedRTT, s.RTTSamples)
	}

	srtt := time.Duration(0) // RFC 6298: SRTT = 7/8 SRTT + 1/8 R
	var end time.Time
	for _, rtt := range []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		end, _ = probeExchange(t, a, b, rtt)
		srtt = (7*srtt + rtt) / 8
	}
	_, dropped := probeExchange(t, a, b, -1)
	// The next probe is due when the dropped one counts as lost.
	probeExchange(t, a, b, 50*time.Millisecond)
	srtt = (7*srtt + 50*time.Millisecond) / 8
	s = a.Stats()
	if s.ProbesSent != 5 || s.ProbesAnswered != 4 || s.ProbesLost != 1 || s.ProbesLate != 0 {
		t.Fatalf("probes sent/answered/lost/late %d/%d/%d/%d, want 5/4/1/0",
			s.ProbesSent, s.ProbesAnswered, s.ProbesLost, s.ProbesLate)
	}
	if s.LatestRTT != 50*time.Millisecond || s.SmoothedRTT != srtt {
		t.Fatalf("RTT latest %v smoothed %v, want 50ms and %v", s.LatestRTT, s.SmoothedRTT, srtt)
	}
	lateAt := end.Add(5 * time.Second)
	answer(t, a, b, lateAt, lateAt, dropped)
	s = a.Stats()
	if s.ProbesLate != 1 || s.ProbesAnswered != 4 || s.LatestRTT != 50*time.Millisecond || !s.LastAnswerAt.Equal(lateAt) {
		t.Fatalf("after a late answer: late %d answered %d latest RTT %v last answer %v",
			s.ProbesLate, s.ProbesAnswered, s.LatestRTT, s.LastAnswerAt.Sub(t0))
	}
}
