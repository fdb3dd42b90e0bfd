package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// drainCount empties n's outputs and returns how many transmits there were.
func drainCount(n *Node) int {
	count := 0
	for _, ok := n.PollTransmit(); ok; _, ok = n.PollTransmit() {
		count++
	}
	for _, ok := n.PollEvent(); ok; _, ok = n.PollEvent() {
	}
	return count
}

// silentPeer is a node with one connection whose peer never answers: its
// checks go out on schedule, so counts are exact.
func silentPeer(t *testing.T) (*Node, time.Time) {
	h := newPairHarness(t, 80, ice.Config{})
	n := h.nodes[0]
	if _, err := n.Connect(h.now, connID, Controlling, Credentials{},
		Credentials{Ufrag: "peerpeer", Pwd: "pppppppppppppppppppppppp"}); err != nil {
		t.Fatal(err)
	}
	if err := n.AddRemoteCandidate(h.now, connID, host(h.addrs[1])); err != nil {
		t.Fatal(err)
	}
	drainCount(n)
	n.HandleTimeout(h.now) // the paced first check
	if got := drainCount(n); got != 1 {
		t.Fatalf("%d transmits at the first pacing deadline, want the first check", got)
	}
	return n, h.now
}

func host(a netip.AddrPort) Candidate {
	return stunmsg.NewCandidate(stunmsg.Host, a, a, netip.AddrPort{}, 65535)
}

func TestAJumpOfHoursDuringChecksRetransmitsOnceAndKeepsTheSchedule(t *testing.T) {
	n, start := silentPeer(t)
	// The check's first retransmission was due 250 ms after it left; the
	// clock now says three hours later (a suspended laptop).
	later := start.Add(3 * time.Hour)
	n.HandleTimeout(later)
	if got := drainCount(n); got != 1 {
		t.Fatalf("%d transmits after the jump, want exactly 1 retransmission", got)
	}
	if got := n.Stats().ClockJumps; got != 1 {
		t.Fatalf("ClockJumps = %d, want 1", got)
	}
	// The schedule resumes as if paused: the next retransmission comes one
	// doubled RTO (500 ms) after the resumed one, on the caller's clock.
	d, reason, ok := n.PollTimeout()
	if !ok || d != later.Add(500*time.Millisecond) || reason != "ice: check-retransmit" {
		t.Fatalf("next deadline %v (%s), want %v ice: check-retransmit", d.Sub(later), reason, 500*time.Millisecond)
	}
	n.HandleTimeout(d)
	if got := drainCount(n); got != 1 {
		t.Fatalf("%d transmits at the next deadline, want 1", got)
	}
	checkInvariants(t, n)
}

func TestAConnectedPairSurvivesAJumpOfHoursWithOneProbeEach(t *testing.T) {
	h := newPairHarness(t, 81, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	h.flight = nil
	h.now = h.now.Add(5 * time.Hour)
	for i, n := range h.nodes {
		n.HandleTimeout(h.now)
		tx := 0
		for t, ok := n.PollTransmit(); ok; t, ok = n.PollTransmit() {
			tx++
			h.flight = append(h.flight, packet{at: h.now.Add(h.latency), from: i, src: t.Src, dst: t.Dst, b: t.Payload})
		}
		if tx > 1 {
			t.Fatalf("%s: %d transmits right after the jump, want at most the one due probe", names[i], tx)
		}
		if n.Stats().ClockJumps != 1 {
			t.Fatalf("%s: ClockJumps = %d, want 1", names[i], n.Stats().ClockJumps)
		}
	}
	probesBefore := h.nodes[0].agentOf(connID).Stats().ProbesSent
	h.runFor(time.Minute)
	h.mustConnect()
	if _, failed := h.find("failed"); failed {
		t.Fatal("a jump failed the connection")
	}
	// One minute of the usual schedule: 20 s of active probing every 1.5 s
	// (13) then idle probes every 25 s (2); a storm would be thousands.
	if got := h.nodes[0].agentOf(connID).Stats().ProbesSent - probesBefore; got > 16 {
		t.Fatalf("%d probes in the minute after the jump", got)
	}
}

func TestTimeGoingBackwardsIsClampedCountedAndTheNodeCarriesOn(t *testing.T) {
	n, start := silentPeer(t)
	back := start.Add(-time.Hour)
	n.HandleTimeout(back)
	if got := drainCount(n); got != 0 {
		t.Fatalf("%d transmits for a clock that went back, want none", got)
	}
	if got := n.Stats().ClockBackwards; got != 1 {
		t.Fatalf("ClockBackwards = %d, want 1", got)
	}
	// The retransmission that was 250 ms away is 250 ms away on the
	// stepped-back clock, not an hour and 250 ms.
	d, _, ok := n.PollTimeout()
	if !ok || d != back.Add(250*time.Millisecond) {
		t.Fatalf("next deadline %v after the step back, want 250ms", d.Sub(back))
	}
	n.HandleTimeout(d)
	if got := drainCount(n); got != 1 {
		t.Fatalf("%d transmits at the deadline, want the retransmission", got)
	}
	checkInvariants(t, n)
}
