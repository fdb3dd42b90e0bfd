// Package scenario builds simulated worlds from a Spec, runs them with
// peerlink's real core and measures what the properties and the CLI need: application
// goodput, every Control datagram's enqueue-to-wire delay (the "probe
// delay") against its bound, the connection's state timeline, false
// failures, how long a cut takes to notice, and the queue depth over time.
//
// A Spec is plain data (two peers with NATs and access links, an optional
// relay, traffic sources, a cut, timers, the queue policy and the seed), so
// property tests can generate Specs and named scenarios are Specs with a
// story. The same Spec runs the same events and gives the same trace hash.
//
//	sc, _ := scenario.Lookup(scenario.DefaultName)
//	spec := sc.Build(scenario.Options{Seed: 42})
//	spec.Policy = gso.FIFO
//	res, _ := scenario.Run(spec)
//	scenario.WriteSummary(os.Stdout, res, wall)
//	fmt.Println(scenario.SummaryLine(res, wall))
//	svg := scenario.Plot([]*scenario.Result{res})
//
// Relays: the world can hold a TURN relay host (sim/relay running
// sim/turnserver). With Spec.Relay both Nodes allocate on it (AddRelay),
// which gives them server-reflexive and relayed candidates, so symmetric
// NATs and blocked direct paths (relay-only, relay-restart) are scenarios
// like any other.
package scenario
