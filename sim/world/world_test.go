package world

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestEventsAtTheSameInstantRunInTheOrderTheyWereScheduled(t *testing.T) {
	w := New(Config{Seed: 1})
	var got []string
	at := Epoch.Add(time.Second)
	for _, name := range []string{"c", "a", "b"} {
		w.Schedule(at, name, func(time.Time) { got = append(got, name) })
	}
	w.Schedule(Epoch.Add(time.Millisecond), "early", func(time.Time) { got = append(got, "early") })
	w.RunUntilIdle(100)
	if want := []string{"early", "c", "a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestTheClockJumpsStraightToTheNextEvent(t *testing.T) {
	w := New(Config{Seed: 1})
	var seen []time.Duration
	w.After(time.Hour, "late", func(now time.Time) { seen = append(seen, now.Sub(Epoch)) })
	w.After(3*time.Second, "soon", func(now time.Time) { seen = append(seen, now.Sub(Epoch)) })
	w.RunUntilIdle(10)
	if want := []time.Duration{3 * time.Second, time.Hour}; !slices.Equal(seen, want) {
		t.Fatalf("fired at %v, want %v", seen, want)
	}
	if w.Fired() != 2 {
		t.Fatalf("fired %d events, want exactly 2 (no ticks)", w.Fired())
	}
}

func TestRunUntilStopsAtTheEndAndLeavesLaterEventsPending(t *testing.T) {
	w := New(Config{Seed: 1})
	ran := 0
	w.After(time.Second, "in", func(time.Time) { ran++ })
	w.After(2*time.Second, "edge", func(time.Time) { ran++ })
	w.After(3*time.Second, "out", func(time.Time) { ran++ })
	w.RunUntil(Epoch.Add(2 * time.Second))
	if ran != 2 || w.Pending() != 1 || w.Elapsed() != 2*time.Second {
		t.Fatalf("ran %d pending %d elapsed %v; want 2, 1, 2s", ran, w.Pending(), w.Elapsed())
	}
}

func TestATimerResetReplacesItsPendingFiringAndStopDisarmsIt(t *testing.T) {
	w := New(Config{Seed: 1})
	var fired []time.Duration
	tm := w.NewTimer("deadline", func(now time.Time) { fired = append(fired, now.Sub(Epoch)) })
	tm.Reset(Epoch.Add(5 * time.Second))
	tm.Reset(Epoch.Add(2 * time.Second))
	if w.Pending() != 1 {
		t.Fatalf("pending %d after two resets, want 1", w.Pending())
	}
	w.RunUntilIdle(10)
	tm.Reset(Epoch.Add(10 * time.Second))
	if !tm.Stop() || tm.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	w.RunUntilIdle(10)
	if want := []time.Duration{2 * time.Second}; !slices.Equal(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
}

func TestAnEventScheduledInThePastRunsNowWithoutMovingTheClockBack(t *testing.T) {
	w := New(Config{Seed: 1})
	w.RunUntil(Epoch.Add(time.Minute))
	var at time.Time
	w.Schedule(Epoch, "past", func(now time.Time) { at = now })
	w.RunUntilIdle(10)
	if at != Epoch.Add(time.Minute) {
		t.Fatalf("ran at %v, want the current time", at.Sub(Epoch))
	}
}

func TestRunUntilIdleStopsAtItsBoundWhenEventsKeepCreatingEvents(t *testing.T) {
	w := New(Config{Seed: 1})
	var tick func(time.Time)
	tick = func(time.Time) { w.After(time.Millisecond, "loop", tick) }
	w.After(0, "loop", tick)
	if w.RunUntilIdle(1000) {
		t.Fatal("a self-rescheduling world reported idle")
	}
	if w.Fired() != 1000 {
		t.Fatalf("fired %d, want exactly the bound 1000", w.Fired())
	}
}

func TestTooManyPendingEventsPanics(t *testing.T) {
	w := New(Config{Seed: 1, MaxPendingEvents: 3})
	for i := 0; i < 3; i++ {
		w.After(time.Second, "x", func(time.Time) {})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("the fourth pending event did not panic")
		}
	}()
	w.After(time.Second, "x", func(time.Time) {})
}

func TestTheSameSeedDrawsTheSameNumbersAndAnotherSeedDoesNot(t *testing.T) {
	draw := func(seed uint64) []uint64 {
		r := New(Config{Seed: seed}).Rand()
		return []uint64{r.Uint64(), r.Uint64(), r.Uint64()}
	}
	if !slices.Equal(draw(7), draw(7)) {
		t.Fatal("seed 7 drew different numbers twice")
	}
	if slices.Equal(draw(7), draw(8)) {
		t.Fatal("seeds 7 and 8 drew the same numbers")
	}
}

func TestTheTraceHashDependsOnEveryFieldOfARecord(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.2:2000")
	sum := func(edit func(*Record)) uint64 {
		tr := newTrace(4)
		r := Record{At: Epoch.Add(time.Second), Kind: KindDrop, Where: "link", Reason: "loss", ID: 3, Src: a, Dst: b, Size: 100}
		edit(&r)
		tr.add(r)
		return tr.Sum()
	}
	base := sum(func(*Record) {})
	edits := []struct {
		name string
		edit func(*Record)
	}{
		{"at", func(r *Record) { r.At = r.At.Add(1) }},
		{"kind", func(r *Record) { r.Kind = KindSend }},
		{"where", func(r *Record) { r.Where = "lin" }},
		{"reason", func(r *Record) { r.Reason = "mtu" }},
		{"id", func(r *Record) { r.ID = 4 }},
		{"src", func(r *Record) { r.Src = b }},
		{"dst", func(r *Record) { r.Dst = a }},
		{"size", func(r *Record) { r.Size = 101 }},
		// Shifting a byte from one string to the next must not collide.
		{"split", func(r *Record) { r.Where, r.Reason = "linkl", "oss" }},
	}
	for _, e := range edits {
		if sum(e.edit) == base {
			t.Errorf("changing %s left the hash unchanged", e.name)
		}
	}
}

func TestTheTraceKeepsOnlyTheLatestRecordsButCountsAll(t *testing.T) {
	w := New(Config{Seed: 1, TraceRingRecords: 3})
	for i := 0; i < 5; i++ {
		w.Note("test", string(rune('a'+i)))
	}
	var kept []string
	for _, r := range w.Trace().Latest() {
		kept = append(kept, r.Reason)
	}
	if want := []string{"c", "d", "e"}; !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	if w.Trace().Len() != 5 || w.Trace().Count(KindNote, "") != 5 {
		t.Fatalf("len %d count %d, want 5 and 5", w.Trace().Len(), w.Trace().Count(KindNote, ""))
	}
}
