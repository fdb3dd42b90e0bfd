package pump

import (
	"math"
	"time"
)

// kernelBudget bounds the Data the kernel holds unsent by the time it takes
// to drain, not by a fixed byte count. It learns the socket's drain rate
// from successive readings of the kernel queue (SIOCOUTQ) and the bytes
// handed to the kernel in between, and lets the kernel hold as much Data
// as drains within the target delay, never less than the floor.
//
// The idea follows Linux's byte queue limits (lib/dynamic_queue_limits.c),
// which size a NIC ring from what completes per interval: a queue found
// empty while there was work to give it means the limit (here: the rate
// estimate) was too low and may only grow; a queue that stayed non-empty
// over a whole interval drained at the link's rate, so its sample is the
// rate itself and the estimate follows it down as well as up.
type kernelBudget struct {
	floor  int           // bytes; 0 disables the budget
	target time.Duration // the drain time the kernel may hold

	// The reference reading a rate sample starts from, and the bytes
	// handed to the kernel since.
	refAt     time.Time
	refUnsent int
	handed    int
	haveRef   bool

	rate float64 // estimated drain rate in bytes per second; 0 unknown
}

// minSample is the shortest interval a rate sample spans: shorter ones
// would count one datagram's serialization as a burst of rate. At 5 Mbit/s
// a 1200-byte datagram takes 2 ms, so a sample overshoots the link's rate
// by at most about one datagram per sample.
const minSample = 2 * time.Millisecond

// maxSample is the longest interval a sample may span when the queue ran
// empty in it: the pump looks at the kernel at least every
// BudgetRecheckMax while it holds Data, so a longer interval means the
// program sent nothing for a while and the link idled.
const maxSample = 128 * time.Millisecond

// observe takes a reading of the kernel queue at now.
func (k *kernelBudget) observe(now time.Time, unsent int) {
	if !k.haveRef || (k.refUnsent == 0 && k.handed == 0) {
		// Nothing in the kernel since the reference: the interval so far
		// was idle and says nothing about the link; start it here.
		k.refAt, k.refUnsent, k.handed, k.haveRef = now, unsent, 0, true
		return
	}
	dt := now.Sub(k.refAt)
	if dt < minSample {
		return
	}
	drained := max(k.refUnsent+k.handed-unsent, 0)
	sample := float64(drained) / dt.Seconds()
	switch {
	case unsent == 0 && dt > maxSample:
		// Emptied long ago, most likely: no sample.
	case unsent == 0:
		// It drained all it was given, so the link is at least this
		// fast; a slower sample here says the program gave little, not
		// that the link slowed.
		k.rate = max(k.rate, sample)
	case k.rate == 0:
		k.rate = sample
	default:
		// Still backlogged at the end of an interval in which it was
		// given work: the link drained at its own rate. A quarter-weight
		// average rides out one odd sample.
		k.rate += (sample - k.rate) / 4
	}
	k.refAt, k.refUnsent, k.handed = now, unsent, 0
}

// handedOff counts bytes given to the kernel since the last reading.
func (k *kernelBudget) handedOff(n int) { k.handed += n }

// limit is the Data the kernel may hold unsent now, in bytes.
func (k *kernelBudget) limit() int {
	l := k.rate * k.target.Seconds()
	if l >= math.MaxInt32 {
		return math.MaxInt32
	}
	return max(k.floor, int(l))
}

// drainTime is how long the kernel takes to drain n bytes at the estimated
// rate; ok is false while the rate is unknown.
func (k *kernelBudget) drainTime(n int) (time.Duration, bool) {
	if k.rate <= 0 {
		return 0, false
	}
	return time.Duration(float64(n) / k.rate * float64(time.Second)), true
}
