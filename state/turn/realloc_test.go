package turn

import (
	"testing"
	"time"
)

// coturn answers the Refresh that deletes a stale allocation at once but
// deletes it a second later, on its timer: an Allocate sent at once meets
// 437 again. The client waits past that second before the third, without
// another Refresh (which would start coturn's second over).
func TestAStaleAllocationIsDeletedOnceAndAllocatedAgainAfterTheServersTimer(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) {
		s.allocated = true // left by an earlier life of this socket
		s.deleteDelay = time.Second
	}, nil)
	h.runUntil(10 * time.Second)
	wantStrings(t, "sends", h.whats(), []string{"Binding", "Allocate", "Allocate+auth", "Refresh+auth",
		"Allocate+auth", "Allocate+auth"})
	wantDurations(t, "Allocate", h.at("Allocate+auth"), secs(0, 0, 1.25))
	if h.c.State() != StateAllocated {
		t.Fatalf("state %v after %q, events %v", h.c.State(), h.whats(), h.kinds())
	}
}

// Waits double after the third Allocate, within MaxRetries in a row.
func TestAStaleAllocationThatLingersIsRetriedWithDoublingWaits(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) {
		s.allocated = true
		s.deleteDelay = 3 * time.Second
	}, nil)
	h.runUntil(10 * time.Second)
	// 437 at 0 (deleted at 3 s), 0 and 1.25 s, then granted at 3.75 s.
	wantDurations(t, "Allocate", h.at("Allocate+auth"), secs(0, 0, 1.25, 3.75))
	if h.c.State() != StateAllocated {
		t.Fatalf("state %v after %q, events %v", h.c.State(), h.whats(), h.kinds())
	}
}

// A verification on a lossy path: every answer to its Refresh is lost.
// The probe beside it meets 437, so the allocation is held and stays.
func TestAVerificationWhoseRefreshAnswersAreLostKeepsTheAllocation(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.events = nil
	relayed, _ := h.c.Relayed()
	h.s.lostRefreshAnswers = true
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pump()
	h.runUntil(30 * time.Second)
	if r, ok := h.c.Relayed(); !ok || r != relayed || len(h.events) != 0 {
		t.Fatalf("relayed %v %v (was %v), events %v: want the allocation kept", r, ok, relayed, h.kinds())
	}
	if s := h.c.Stats(); s.Reallocations != 0 || s.ProbesHeld != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// A scheduled Refresh whose answers are all lost, from a server that
// answers everything else, is no lost allocation either: the probe meets
// 437 and the Refresh goes again.
func TestAScheduledRefreshWhoseAnswersAreLostIsSentAgainAndTheAllocationKept(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RefreshAfter = 20 * time.Second })
	h.events = nil
	h.s.lostRefreshAnswers = true
	h.runUntil(41 * time.Second)
	h.s.lostRefreshAnswers = false
	h.runUntil(45 * time.Second)
	wantDurations(t, "Allocate", h.at("Allocate+auth"), secs(0, 39.5))
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(20, 20.5, 21.5, 23.5, 27.5, 31.5, 35.5, 39.5, 40, 41, 43))
	if len(h.events) != 0 || h.c.Stats().Reallocations != 0 || h.c.Stats().Refreshes != 1 {
		t.Fatalf("events %v, stats %+v", h.kinds(), h.c.Stats())
	}
}

// Reinstall asks again, at once, for the permission and the channel
// toward a peer whose path went silent; at most once per VerifyInterval
// for that IP, and never for a peer the client was not asked to reach.
func TestReinstallAsksForThePermissionAndChannelAgainAtMostOncePerVerifyInterval(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.runUntil(10 * time.Second)
	var sent []time.Duration
	for at := 10 * time.Second; at <= 20*time.Second; at += time.Second {
		h.runUntil(at)
		if h.c.Reinstall(h.now, peerA) {
			sent = append(sent, at)
		}
		h.pump()
	}
	wantDurations(t, "Reinstall", sent, secs(10, 15, 20))
	wantDurations(t, "CreatePermission", h.at("CreatePermission+auth"), secs(0, 10, 15, 20))
	wantDurations(t, "ChannelBind", h.at("ChannelBind+auth"), secs(0, 10, 15, 20))
	if h.c.Reinstall(h.now, peerB) {
		t.Fatal("Reinstall toward a peer never asked for")
	}
	if s := h.c.Stats(); s.Reinstalls != 3 || s.PermissionRefreshes != 3 || s.ChannelRefreshes != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// Paths through a permission went silent twice at like ages (61.5 s and
// 62 s after it was installed): the server's lifetimes are about a minute,
// and every permission and channel is refreshed after half of that from
// then on. Silences at unlike ages teach nothing.
func TestTwoSilencesAtLikeAgesShortenThePermissionAndChannelRefreshes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		second       time.Duration
		wantLearned  uint64
		wantRefreshs []time.Duration
	}{
		{"like ages", 123500 * time.Millisecond, 1, secs(0, 61.5, 123.5, 154.25, 185, 215.75, 246.5, 277.25)},
		{"unlike ages", 81500 * time.Millisecond, 0, secs(0, 61.5, 81.5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if err := h.c.BindChannel(h.now, peerA); err != nil {
				t.Fatal(err)
			}
			h.pump()
			for _, at := range []time.Duration{61500 * time.Millisecond, tc.second} {
				h.runUntil(at)
				if !h.c.Reinstall(h.now, peerA) {
					t.Fatalf("no Reinstall at %v", at)
				}
				h.pump()
			}
			h.runUntil(300 * time.Second)
			wantDurations(t, "CreatePermission", h.at("CreatePermission+auth"), tc.wantRefreshs)
			wantDurations(t, "ChannelBind", h.at("ChannelBind+auth"), tc.wantRefreshs)
			if got := h.c.Stats().RefreshLearned; got != tc.wantLearned {
				t.Fatalf("RefreshLearned %d, want %d", got, tc.wantLearned)
			}
		})
	}
}
