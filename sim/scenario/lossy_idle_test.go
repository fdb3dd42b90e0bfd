package scenario

import "testing"

// lossyIdleHour is the idle-hour scenario with loss on every access link:
// a path that works, but drops some of the idle probes and their answers.
func lossyIdleHour(seed uint64, loss float64) Spec {
	s := idleHour(seed)
	s.Name = "idle-hour-lossy"
	for i := range s.Peers {
		s.Peers[i].Link.Up.LossRate = loss
		s.Peers[i].Link.Down.LossRate = loss
	}
	return s
}

// With the first idle timing (a probe every 25 s, failure after 60 s, no
// retry), these seeds declared a working path lost: 20 idle hours at 5% per
// link gave 145 false ProbeTimeouts. An unanswered idle probe is now
// followed up until answered, so loss alone never fails the path.
func TestTwentyLossyIdleHoursWithTheDefaultTimersReportNoFalseFailure(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 4
	}
	var failures int
	for seed := range uint64(seeds) {
		res, err := Run(lossyIdleHour(seed+1, 0.05))
		if err != nil {
			t.Fatal(err)
		}
		if res.FalseFailures > 0 {
			t.Logf("seed %d: %d false failures", seed+1, res.FalseFailures)
		}
		failures += res.FalseFailures
	}
	if failures > 0 {
		t.Fatalf("%d false failures in %d lossy idle hours", failures, seeds)
	}
}
