package iceagent

import (
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

// Stats returns the counters and the current path.
func (a *Agent) Stats() ice.Stats {
	s := a.stats
	s.SmoothedRTT, s.LatestRTT, s.RTTSamples = a.rtt.smoothed, a.rtt.latest, a.rtt.samples
	if a.selected != nil {
		s.HasPath, s.Path = true, a.selected.path()
	}
	s.LastAnswerAt = a.lastAnswerAt
	return s
}

// rttEstimator is RFC 6298's smoothed RTT and variation.
type rttEstimator struct {
	smoothed, variation, latest time.Duration
	samples                     uint64
}

func (r *rttEstimator) sample(d time.Duration) {
	d = max(d, 0)
	r.latest = d
	r.samples++
	if r.samples == 1 {
		r.smoothed, r.variation = d, d/2
		return
	}
	diff := r.smoothed - d
	if diff < 0 {
		diff = -diff
	}
	// alpha 1/8, beta 1/4 as in RFC 6298 section 2.3.
	r.variation = (3*r.variation + diff) / 4
	r.smoothed = (7*r.smoothed + d) / 8
}

// answerHeard notes an authenticated answer to one of our requests.
func (a *Agent) answerHeard(now time.Time) {
	a.lastAnswerAt = maxTime(a.lastAnswerAt, now)
}
