package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

func TestTwoNodesConnectWithEitherSideControlling(t *testing.T) {
	for _, roles := range [][2]Role{{Controlling, Controlled}, {Controlled, Controlling}} {
		h := newPairHarness(t, 1, ice.Config{})
		h.connect(roles)
		h.runFor(2 * time.Second)
		if !h.connected(0) || !h.connected(1) {
			t.Fatalf("roles %v: not connected:\n%s", roles, strings.Join(h.log, "\n"))
		}
		pa, _ := h.nodes[0].Path(connID)
		if pa.Src() != h.addrs[0] || pa.Dst() != h.addrs[1] {
			t.Fatalf("path %v", pa)
		}
	}
}

func TestRoleConflictIsResolvedWhicheverWayBothClaim(t *testing.T) {
	for _, roles := range [][2]Role{{Controlling, Controlling}, {Controlled, Controlled}} {
		h := newPairHarness(t, 2, ice.Config{})
		h.connect(roles)
		h.runFor(3 * time.Second)
		if !h.connected(0) || !h.connected(1) {
			t.Fatalf("roles %v: not connected:\n%s", roles, strings.Join(h.log, "\n"))
		}
		ra, rb := h.nodes[0].agentOf(connID).Role(), h.nodes[1].agentOf(connID).Role()
		if ra == rb {
			t.Fatalf("roles %v: both ended %v", roles, ra)
		}
		if _, ok := h.find("role-changed"); !ok {
			t.Fatalf("roles %v: no role change logged", roles)
		}
	}
}

func TestDataFlowsBothWaysAndEarlyDataIsBufferedUntilConnected(t *testing.T) {
	h := newPairHarness(t, 3, ice.Config{})
	h.connect([2]Role{Controlling, Controlled})
	h.send(0, 3, 100) // before any path exists: buffered
	h.runFor(2 * time.Second)
	h.send(0, 50, 1200)
	h.send(1, 50, 1200)
	h.runFor(time.Second)
	if h.received[1] != 53 || h.received[0] != 50 {
		t.Fatalf("received a=%d b=%d, want 50 and 53", h.received[0], h.received[1])
	}
}

func TestPreConnectBufferRefusesWithErrPendingFullAndCountsBeyondItsBound(t *testing.T) {
	h := newPairHarness(t, 3, ice.Config{})
	h.connect([2]Role{Controlling, Controlled})
	refused := 0
	for range 20 {
		if err := h.nodes[0].Send(h.now, connID, make([]byte, 100)); errors.Is(err, ErrPendingFull) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.nodes[0].Stats().PendingDropped; got != 4 || refused != 4 {
		t.Fatalf("PendingDropped = %d, refused %d; want 4 each (20 sent, 16 buffered)", got, refused)
	}
	if s, _ := h.nodes[0].ConnStats(connID); s.PendingDropped != 4 {
		t.Fatalf("ConnStats.PendingDropped = %d, want 4", s.PendingDropped)
	}
}

func TestAnIdleConnectionStaysUpForAnHour(t *testing.T) {
	h := newPairHarness(t, 4, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(time.Hour)
	if !h.connected(0) || !h.connected(1) {
		t.Fatalf("lost while idle:\n%s", strings.Join(h.log, "\n"))
	}
	if !h.nodes[0].agentOf(connID).Idle() {
		t.Fatal("not on idle timing after an hour without data")
	}
	// An hour of idle probing at 25 s from both sides, not 1.5 s.
	if s := h.nodes[0].agentOf(connID).Stats(); s.ProbesSent > 3600/25+15 {
		t.Fatalf("%d probes in an idle hour", s.ProbesSent)
	}
}

func TestACutPathIsDetectedWithinProbeTimeout(t *testing.T) {
	h := newPairHarness(t, 5, ice.Config{})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(2 * time.Second)
	h.send(0, 1, 100)
	h.cut = true
	cutAt := h.now
	h.runFor(20 * time.Second)
	for i := range h.nodes {
		var failedAt time.Time
		for _, l := range h.log {
			if strings.Contains(l, names[i]+" event conn 1 failed ProbeTimeout") {
				failedAt = parseTS(t, l)
			}
		}
		if failedAt.IsZero() {
			t.Fatalf("%s never failed:\n%s", names[i], strings.Join(h.log, "\n"))
		}
		if d := failedAt.Sub(cutAt); d > 15*time.Second || d < 13*time.Second {
			t.Fatalf("%s failed %v after the cut, want within ProbeTimeout (15 s) and after 13 s", names[i], d)
		}
	}
}

func parseTS(t *testing.T, line string) time.Time {
	d, err := time.ParseDuration(strings.TrimSpace(line[:8]) + "s")
	if err != nil {
		t.Fatal(err)
	}
	return epoch.Add(d)
}

// Data buffered before a connection that never comes up is counted as
// dropped when it fails, not lost without a trace.
func TestDataBufferedForAConnectionThatFailsIsCountedAsDropped(t *testing.T) {
	h := newPairHarness(t, 3, ice.Config{})
	h.cut = true
	h.connect([2]Role{Controlling, Controlled})
	for range 10 {
		if err := h.nodes[0].Send(h.now, connID, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	h.runFor(time.Minute)
	s, _ := h.nodes[0].ConnStats(connID)
	if s.Failed == 0 || s.PendingDropped != 10 || h.nodes[0].Stats().PendingDropped != 10 {
		t.Fatalf("failed %v, PendingDropped %d (node %d), want a failure and 10", s.Failed, s.PendingDropped, h.nodes[0].Stats().PendingDropped)
	}
}
