package iceagent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// A pair whose wait after a failed nomination is over is the candidate
// again, and the nomination deadline must follow it: counting a lower pair
// passed over while that wait lasted would leave the deadline in the past
// and HandleTimeout with nothing to do (a busy loop).
func TestTheNominationDeadlineNeverStaysInThePast(t *testing.T) {
	a, _ := newPair(t, ice.Config{})
	srflx := netip.MustParseAddrPort("203.0.113.2:6000")
	relayed := netip.MustParseAddrPort("192.0.2.20:7000")
	must(t, a.AddRemoteCandidate(t0, stunmsg.NewCandidate(stunmsg.ServerReflexive, srflx, srflx, netip.AddrPort{}, 65535)))
	must(t, a.AddRemoteCandidate(t0, relay(relayed)))
	now := t0.Add(time.Minute)
	pending, e, f := a.findPair(addrA, addrB), a.findPair(addrA, srflx), a.findPair(addrA, relayed)
	if pending == nil || e == nil || f == nil || !(pending.prio > e.prio && e.prio > f.prio) {
		t.Fatal("pairs missing or out of order")
	}
	// A higher pair still being checked; e succeeded 50 ms ago (its
	// NominationWait runs) after a failed nomination whose wait ended 2 s
	// ago; f, below, succeeded 5 s ago.
	pending.state = waiting
	e.state, e.succeededAt, e.nominateAfter = succeeded, now.Add(-50*time.Millisecond), now.Add(-2*time.Second)
	f.state, f.succeededAt = succeeded, now.Add(-5*time.Second)
	a.nextCheckAt = now.Add(time.Hour) // keep the paced checks out of the way
	a.HandleTimeout(now)
	at, reason, ok := a.PollTimeout()
	if ok && reason == "ice: nominate" && at.Before(now) {
		t.Fatalf("nomination deadline %v, in the past, after HandleTimeout at %v", at.Sub(t0), now.Sub(t0))
	}
	if a.nominating != nil {
		t.Fatalf("nominated %v while e's NominationWait runs", a.nominating.path())
	}
}
