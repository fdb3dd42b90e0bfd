// Package netmodel is the simulated network: links, NATs, hosts and UDP
// sockets on a world's clock and random source.
//
// Topology. A Network joins hosts and NATs by public address and adds no
// delay itself. Every Host has an uplink and a downlink (HostConfig), each a
// Link with latency, jitter, random and Gilbert–Elliott loss, reordering,
// duplication, MTU and a rate with a bounded drop-tail queue. A host behind
// a NAT (NAT.AddHost) has a private address; its packets are translated
// after its uplink and before its downlink, and hosts behind the same NAT
// reach each other's private addresses directly. Partitions (one-way or
// two-way, between address prefixes) and cut links model outages; both can
// be scheduled to begin and heal at given times.
//
// A packet's path: Socket send buffer → host uplink (serialize at rate,
// then MTU, loss, duplication, delay) → NAT outbound → partition check →
// NAT inbound (mapping and filtering) → destination downlink → socket
// receive queue. Every drop is counted by reason (the Drop* constants) and
// traced; sends and deliveries are traced too.
//
// Sockets. Socket implements state/pump.Conn. A send is charged to the
// socket's send buffer (212992 bytes by default, as Linux) until the uplink
// has serialized it, so a sender faster than its link meets
// pump.ErrWouldBlock exactly when a kernel would push back. As on Linux, a
// GSO batch is taken whole while the buffer is not yet full.
//
// Driving a host. Nothing calls into host code synchronously from inside a
// call the host made: the socket reports through SetNotify from inside a
// world event, and the host schedules its own deadlines with a world.Timer.
// A host loop around the shared pump looks like this:
//
//	sock, _ := host.Bind(port, netmodel.SocketConfig{})
//	deadline := w.NewTimer("alice/deadline", func(now time.Time) { step(now) })
//	sock.SetNotify(func(now time.Time, ev netmodel.SocketEvent) { step(now) })
//
//	step := func(now time.Time) {
//		// Readable: Recv until it returns 0 (Readable is edge-triggered
//		// and will not repeat while datagrams wait).
//		// Writable: flush the queue again; it fires once after each
//		// ErrWouldBlock, when the buffer is below half full.
//		// Run the pump: feed received datagrams and expired timers to the
//		// node, drain its transmits into the queue, Send until
//		// ErrWouldBlock, then:
//		if at, ok := nextDeadline(); ok {
//			deadline.Reset(at)
//		} else {
//			deadline.Stop()
//		}
//	}
//
// Simulated applications that do not use the gso queue (the TURN relay,
// traffic generators, tests) use WriteTo, WriteFrom and ReadFrom.
package netmodel
