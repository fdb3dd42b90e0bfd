package world

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/btree"
)

// Epoch is where every world's clock starts. A fixed instant, so that two
// runs of a seed print and hash the same times.
var Epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Defaults for Config fields left zero.
const (
	// DefaultMaxPendingEvents bounds the event queue. A world that needs more
	// is a runaway scenario (something schedules in a loop), and failing fast
	// beats exhausting memory.
	DefaultMaxPendingEvents = 1 << 22
	// DefaultTraceRingRecords is how many of the latest trace records are kept
	// for inspection; the hash covers all of them regardless.
	DefaultTraceRingRecords = 4096
)

// pcgStream is the second PCG word. Fixed, so that the seed alone picks the
// sequence; it differs from zero only to keep it from looking like an
// unset value in a debugger.
const pcgStream = 0x9e3779b97f4a7c15

// Config describes a world. Only Seed matters for reproduction; the bounds
// change no outcome unless they are hit.
type Config struct {
	Seed             uint64
	MaxPendingEvents int // 0 means DefaultMaxPendingEvents
	TraceRingRecords int // 0 means DefaultTraceRingRecords
}

// World is the simulated universe: one clock, one random source, one event
// queue and one trace. Every component of a simulation takes its time and its
// randomness from here and nowhere else, which is what makes a seed replay a
// run exactly.
//
// A World is not safe for concurrent use; the simulator has no goroutines.
type World struct {
	seed       uint64
	rng        *rand.Rand
	now        time.Time
	events     *btree.BTreeG[*event]
	maxPending int
	seq        uint64 // next event sequence number; also orders same-instant events
	ids        uint64 // last identifier handed out by NextID
	fired      uint64
	trace      *Trace
}

// event is one scheduled callback. The pair (at, seq) is unique because seq
// only grows, so the btree never replaces an entry.
type event struct {
	at    int64 // nanoseconds since Epoch
	seq   uint64
	timer *Timer
}

func eventLess(a, b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// New makes a world whose clock reads Epoch.
func New(cfg Config) *World {
	if cfg.MaxPendingEvents <= 0 {
		cfg.MaxPendingEvents = DefaultMaxPendingEvents
	}
	if cfg.TraceRingRecords <= 0 {
		cfg.TraceRingRecords = DefaultTraceRingRecords
	}
	return &World{
		seed:       cfg.Seed,
		rng:        rand.New(rand.NewPCG(cfg.Seed, pcgStream)),
		now:        Epoch,
		events:     btree.NewG(32, eventLess),
		maxPending: cfg.MaxPendingEvents,
		trace:      newTrace(cfg.TraceRingRecords),
	}
}

// Seed is the one number that reproduces this world.
func (w *World) Seed() uint64 { return w.seed }

// Now is the virtual time. It moves only while the world runs events.
func (w *World) Now() time.Time { return w.now }

// Elapsed is the virtual time since Epoch.
func (w *World) Elapsed() time.Duration { return w.now.Sub(Epoch) }

// Rand is the world's only random source. Components must draw from it only
// inside events (or during setup), never depending on map order or wall time,
// so the sequence of draws is a function of the seed.
func (w *World) Rand() *rand.Rand { return w.rng }

// Trace is the record of everything that happened.
func (w *World) Trace() *Trace { return w.trace }

// NextID returns a fresh identifier, unique within the world (packet ids,
// allocation ids). It starts at 1 so that 0 can mean "none".
func (w *World) NextID() uint64 {
	w.ids++
	return w.ids
}

// Pending is the number of scheduled events.
func (w *World) Pending() int { return w.events.Len() }

// Fired is the number of events run so far.
func (w *World) Fired() uint64 { return w.fired }

// Next reports when the earliest pending event is due.
func (w *World) Next() (time.Time, bool) {
	ev, ok := w.events.Min()
	if !ok {
		return time.Time{}, false
	}
	return fromNanos(ev.at), true
}

// Schedule runs fn once at the given instant (clamped to now if earlier).
// It returns the timer so the caller may stop it.
func (w *World) Schedule(at time.Time, label string, fn func(now time.Time)) *Timer {
	t := w.NewTimer(label, fn)
	t.Reset(at)
	return t
}

// After runs fn once, d from now.
func (w *World) After(d time.Duration, label string, fn func(now time.Time)) *Timer {
	return w.Schedule(w.now.Add(d), label, fn)
}

// Step runs the earliest pending event, moving the clock to its instant.
// It reports false when nothing is pending.
func (w *World) Step() bool {
	ev, ok := w.events.DeleteMin()
	if !ok {
		return false
	}
	t := ev.timer
	t.ev = nil
	if ev.at > w.nanos() {
		w.now = fromNanos(ev.at)
	}
	w.fired++
	w.trace.add(Record{At: w.now, Kind: KindEvent, Where: t.label})
	t.fn(w.now)
	return true
}

// RunUntil runs every event due at or before end, then sets the clock to end
// (if it is later than now). Events that the run schedules for later stay
// pending.
func (w *World) RunUntil(end time.Time) {
	endNs := end.Sub(Epoch).Nanoseconds()
	for {
		ev, ok := w.events.Min()
		if !ok || ev.at > endNs {
			break
		}
		w.Step()
	}
	if end.After(w.now) {
		w.now = end
	}
}

// RunFor runs the world for d of virtual time.
func (w *World) RunFor(d time.Duration) { w.RunUntil(w.now.Add(d)) }

// RunUntilIdle runs events until none is pending or maxEvents have run; the
// bound stops a world whose components keep one another busy forever. It
// reports whether the world went idle.
func (w *World) RunUntilIdle(maxEvents int) bool {
	for i := 0; i < maxEvents; i++ {
		if !w.Step() {
			return true
		}
	}
	return w.events.Len() == 0
}

func (w *World) nanos() int64 { return w.now.Sub(Epoch).Nanoseconds() }

func fromNanos(ns int64) time.Time { return Epoch.Add(time.Duration(ns)) }

func (w *World) insert(t *Timer, at time.Time) {
	if w.events.Len() >= w.maxPending {
		panic(fmt.Sprintf("world: more than %d pending events (runaway scenario?)", w.maxPending))
	}
	ns := at.Sub(Epoch).Nanoseconds()
	if now := w.nanos(); ns < now {
		ns = now
	}
	ev := &event{at: ns, seq: w.seq, timer: t}
	w.seq++
	t.ev = ev
	w.events.ReplaceOrInsert(ev)
}
