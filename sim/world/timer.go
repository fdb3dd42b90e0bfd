package world

import "time"

// Timer is a reusable one-shot callback: the "next event" handle of a
// simulated host. A host's loop keeps one Timer for its next deadline and
// Resets it after every step, so at most one event per timer is pending.
type Timer struct {
	w     *World
	label string
	fn    func(now time.Time)
	ev    *event // the pending event, nil when stopped or fired
}

// NewTimer makes a stopped timer that will call fn when it fires. The label
// names the event in the trace.
func (w *World) NewTimer(label string, fn func(now time.Time)) *Timer {
	return &Timer{w: w, label: label, fn: fn}
}

// Reset (re)arms the timer for the given instant, replacing any pending
// firing. An instant in the past fires at the current time, after the
// events already due then.
func (t *Timer) Reset(at time.Time) {
	t.Stop()
	t.w.insert(t, at)
}

// Stop disarms the timer and reports whether it was pending.
func (t *Timer) Stop() bool {
	if t.ev == nil {
		return false
	}
	t.w.events.Delete(t.ev)
	t.ev = nil
	return true
}

// Pending reports whether the timer is armed.
func (t *Timer) Pending() bool { return t.ev != nil }

// When is the instant the timer fires; ok is false when it is not armed.
func (t *Timer) When() (at time.Time, ok bool) {
	if t.ev == nil {
		return time.Time{}, false
	}
	return fromNanos(t.ev.at), true
}
