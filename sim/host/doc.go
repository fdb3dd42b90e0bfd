// Package host runs peerlink's real connection core on a simulated
// machine: the real node.Node, the real gso.Queue and the drivers' shared
// pump, over a netmodel.Socket, in virtual time.
//
// # The loop
//
// A Host runs the same step as the real-time loop of package drivers
// (pump.Pump.Step), with world events in place of goroutines and the
// world's clock in place of the OS's. It wakes on three things and takes
// the application's commands, and after each it settles the same way:
//
//	socket Readable → Recv until empty, pump.HandleMessages
//	socket Writable → pump.SetWritable
//	deadline timer  → pump.HandleTimeout
//	app command     → Do / Send from inside any world event
//
//	settle: s := pump.Step(now, deliver each event to the application)
//	        while s.Round (or s.Again): the socket's Send, pump.Sent, pump.Step
//	        tell a refused application it may send again (and step again)
//	        arm the timer at s.Next
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
// bit leaving the host. Each step reports the Control datagrams queued
// since the last one (pump.StepResult.ControlQueued), and every pump call
// between two steps happens at one virtual instant, so they were enqueued
// at that step's now. Datagrams the socket takes
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
