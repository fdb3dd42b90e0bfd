// Package host runs peerlink's real connection core on a simulated
// machine: the real node.Node, the real gso.Queue and the drivers' shared
// pump, over a netmodel.Socket, in virtual time.
//
// # The loop
//
// A Host mirrors the real-time loop of package drivers (drivers/run.go)
// with world events in place of goroutines. It wakes on exactly three
// things, and after each it settles the same way:
//
//	socket Readable → Recv until empty, pump.HandleMessages
//	socket Writable → pump.SetWritable
//	deadline timer  → pump.HandleTimeout (the timer is armed at pump.PollTimeout)
//	app command     → Do / Send from inside any world event
//
//	settle: deliver the Node's events to the application, pump.Flush,
//	        tell a refused application it may send again, re-arm the timer.
//
// Callbacks (OnEvent, OnData, OnWritable) run inside the settle; commands
// they issue are applied at once and flushed by the same settle, never by
// a nested one.
//
// # Randomness
//
// A Host's Node draws from its own PCG source seeded by two draws of the
// world's source when the host is made, so a seed reproduces every
// credential, tie-breaker and transaction ID, and adding a host does not
// shift the draws of another host's Node.
//
// # Measuring how long Control waits
//
// The liveness property P1 needs, for every Control datagram (probe,
// check, answer), the time from its enqueue into the gso queue to its last
// bit leaving the host. The pump hides the enqueue, so the host infers it
// without touching the pump: every pump call happens at one virtual
// instant, so the Control datagrams the queue's counters show arriving
// during a call were enqueued at that instant. Datagrams the socket takes
// are matched to those arrivals in order, and the uplink's tap
// (netmodel.Link.SetTap) gives the wire time, because the uplink serializes
// a socket's datagrams in the order the socket took them.
//
// The in-order matching is exact whenever Control leaves the queue in the
// order it entered, which the control-lane and FIFO policies guarantee
// within a flow; across two Control flows queued at once, or under the
// smallest-first policy, it pairs the k-th arrival with the k-th departure,
// which never overstates the largest delay (sorting both sides minimises
// the largest difference), so a bound violation it reports is real. An
// exact figure in every case would need the pump to report each enqueue
// (for example a pump.Config.OnEnqueue(now, node.Transmit, error) hook).
package host
