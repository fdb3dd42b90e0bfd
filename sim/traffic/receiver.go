package traffic

import "time"

// Receiver measures stamped payloads as they arrive: count, one-way delay
// and order. It keeps a fixed amount of state however long the run.
type Receiver struct {
	Received  uint64
	Late      uint64 // arrived after a higher sequence number: reordered or duplicated
	Malformed uint64 // too short to carry a stamp
	MaxDelay  time.Duration
	sumDelay  time.Duration
	highest   uint64
	any       bool
}

// Observe records one payload received at now.
func (r *Receiver) Observe(now time.Time, payload []byte) {
	seq, at, ok := Parse(payload)
	if !ok {
		r.Malformed++
		return
	}
	r.Received++
	d := now.Sub(at)
	r.sumDelay += d
	r.MaxDelay = max(r.MaxDelay, d)
	if r.any && seq <= r.highest {
		r.Late++
		return
	}
	r.highest, r.any = seq, true
}

// MeanDelay is the average one-way delay so far.
func (r *Receiver) MeanDelay() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.sumDelay / time.Duration(r.Received)
}
