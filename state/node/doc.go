// Package node is peerlink's connection core: a sans-IO state machine that
// owns every connection of a process (or socket set), their ICE agents, the
// local addresses and the STUN servers. It reads no clock, opens no socket,
// starts no goroutine and draws all randomness from Config.Rand, so the
// simulator runs exactly the code the drivers run, and a seed replays a run.
//
// # Verbs
//
// Inputs take the current time and may produce output:
//
//	HandleDatagram(now, local, remote, b) (id, payload, ok) // a received datagram
//	HandleTimeout(now)                                     // the deadline came
//
// Commands from the application (each also takes now):
//
//	Connect, Close, AddRemoteCandidate, RemoveRemoteCandidate, Send,
//	AddLocalAddress, AddStunServer
//
// Outputs are drained until empty after every input or command:
//
//	PollTransmit() (Transmit, bool)          // datagrams to send, tagged Control or Data
//	PollEvent() (Event, bool)                // CandidateGathered, Connected, PathChanged, Failed, Closed, RoleChanged
//	PollTimeout() (time.Time, string, bool)  // next deadline and why
//
// Time never goes backwards inside: a now earlier than one seen before is
// replaced by that one and counted (Stats.ClockBackwards). PollTimeout never
// returns a time before the latest now.
//
// # The event loop
//
// A driver (or the shared pump, or the simulator) runs this loop on one
// goroutine; nothing in the Node is safe for concurrent use:
//
//	n, _ := node.New(node.Config{Rand: rand.New(rand.NewChaCha8(seedFromCryptoRand))})
//	n.AddLocalAddress(clock(), socketAddr)          // each bound, non-wildcard address
//	n.AddStunServer(clock(), stunServer)            // optional: server-reflexive candidates
//	creds, _ := n.Connect(clock(), peer, node.Controlling, node.Credentials{}, peerCreds)
//	// signal creds (and every CandidateGathered candidate) to the peer
//
//	for {
//		flush := func() {
//			for t, ok := n.PollTransmit(); ok; t, ok = n.PollTransmit() {
//				queue.Enqueue(t.Src, t.Dst, t.ECN, t.Class, t.Payload) // copies the payload
//			}
//			for e, ok := n.PollEvent(); ok; e, ok = n.PollEvent() {
//				switch e := e.(type) {
//				case node.CandidateGathered: signal(e.Conn, e.Candidate.Marshal())
//				case node.Connected:         // ready; e.Path
//				case node.PathChanged:       // moved to e.Path
//				case node.Failed:            // e.Reason: CandidateTimeout, ChecksFailed, ProbeTimeout
//				case node.Closed:
//				}
//			}
//		}
//		flush()
//		deadline, _, ok := n.PollTimeout()
//		select { // whichever comes first
//		case d := <-received:          // local, remote, bytes
//			if id, p, ok := n.HandleDatagram(clock(), d.Local, d.Remote, d.B); ok {
//				deliverToApp(id, p)
//			}
//		case <-timerAt(deadline, ok):
//			n.HandleTimeout(clock())
//		case c := <-appCommands:       // Send, Connect, AddRemoteCandidate, Close...
//			c.apply(n, clock())
//		case <-writable(queue):        // flush the queue into the socket
//		}
//	}
//
// Every STUN message leaves as gso.Control and every application datagram
// as gso.Data, so the queue sends probes ahead of bulk data.
//
// # Demultiplexing
//
// HandleDatagram follows RFC 7983: a first byte 0-3 with the STUN magic
// cookie is STUN (a Binding request is routed by the ufrag in its USERNAME,
// a response by the tag in its transaction ID); 64-79 is TURN ChannelData
// (reserved for the TURN work, dropped for now); anything else is the
// application's, delivered for the connection that owns the path (local,
// remote) — a path the peer has authenticated on with a check. Whatever
// nobody wants is dropped and counted by reason in Stats, never a panic.
//
// # Failure
//
// Misuse (unknown connection, bad credentials, empty payload) returns a
// sentinel error. A failed connection emits Failed with a typed reason and
// keeps its state until Close or a new Connect for its ID. Broken internal
// invariants panic.
package node
