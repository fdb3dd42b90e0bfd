// Package world is the simulator's universe: a virtual clock, one seeded
// random source, an event queue and a trace.
//
// Determinism. A World holds the only clock (starting at Epoch) and the only
// random source (PCG seeded with Config.Seed) that simulated components may
// use. The clock jumps straight to the next pending event; there are no
// ticks, so an idle hour costs nothing. Events due at the same instant run in
// the order they were scheduled (a sequence number breaks ties), so the same
// seed and the same setup run the same events in the same order and produce a
// trace with the same hash.
//
// Scheduling. Schedule and After run a callback once; NewTimer returns a
// reusable handle whose Reset replaces the pending firing, the shape a host's
// event loop needs for "my next deadline". Callbacks run inside Step,
// RunUntil or RunUntilIdle and may schedule further events. Nothing in the
// simulator calls back into a component synchronously from inside that
// component's own call: effects always go through the event queue.
//
// Trace. Components report packets (Send, Deliver, Drop with a reason) and
// remarks (Note); the world itself records each event it runs. Every record
// is hashed (FNV-64a over a canonical encoding), counted by kind, place and
// reason, and kept in a bounded ring for inspection.
//
// A run:
//
//	w := world.New(world.Config{Seed: seed})
//	fmt.Println("seed", w.Seed())
//	... build links, NATs, hosts on w ...
//	w.RunUntil(world.Epoch.Add(10 * time.Minute))
//	fmt.Printf("trace %016x\n", w.Trace().Sum())
package world
