// Package timer is the one way peerlink's sub-machines (node, ice, turn,
// gso, pump) say when they next need HandleTimeout and why: each offers the
// deadlines of its timers to a Next, and its PollTimeout returns the
// earliest with that timer's reason.
//
// A reason is "machine: timer", lower case, words joined by hyphens:
// "ice: probe", "turn: keepalive", "gso: idle-buffers", "pump:
// kernel-budget". A driver logs it and a test prints it; nothing branches
// on it.
package timer

import "time"

// Deadline is when a timer wants HandleTimeout, and why.
type Deadline struct {
	At     time.Time
	Reason string
}

// Next keeps the earliest of the deadlines offered to it. On a tie the one
// offered first stays, so the order of offers is the order of precedence
// of equal deadlines. The zero Next holds no deadline.
type Next struct {
	d  Deadline
	ok bool
}

// Offer considers a deadline at, labelled reason.
func (n *Next) Offer(at time.Time, reason string) {
	if !n.ok || at.Before(n.d.At) {
		n.d, n.ok = Deadline{At: at, Reason: reason}, true
	}
}

// OfferIf considers a deadline when ok is set: it takes a sub-machine's
// PollTimeout result as it comes.
func (n *Next) OfferIf(at time.Time, reason string, ok bool) {
	if ok {
		n.Offer(at, reason)
	}
}

// NotBefore moves a deadline earlier than t to t: a machine that was given
// now never asks to be called before it.
func (n *Next) NotBefore(t time.Time) {
	if n.ok && n.d.At.Before(t) {
		n.d.At = t
	}
}

// Deadline returns the earliest deadline, and false when none was offered.
func (n Next) Deadline() (Deadline, bool) { return n.d, n.ok }

// Poll returns the earliest deadline in the shape every PollTimeout has.
func (n Next) Poll() (at time.Time, reason string, ok bool) { return n.d.At, n.d.Reason, n.ok }
