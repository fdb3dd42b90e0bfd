// Package node is peerlink's connection core: a sans-IO state machine that
// owns every connection of a process (or socket set), their ICE agents, the
// local addresses, the STUN servers and the TURN relays (one turn.Client
// each). It reads no clock, opens no socket, starts no goroutine and draws
// all randomness from Config.Rand, so the simulator runs exactly the code
// the drivers run, and a seed replays a run.
//
// # Verbs
//
// Inputs take the current time and may produce output:
//
//	HandleDatagram(now, local, remote, b) (id, payload, ok) // a received datagram
//	HandleSegments(now, local, remote, b, seg, deliver)     // a GRO-coalesced message
//	HandleTimeout(now)                                     // the deadline came
//
// Commands from the application (each also takes now):
//
//	Connect, Close, AddRemoteCandidate, RemoveRemoteCandidate, Send,
//	SendBatch, AddLocalAddress, RemoveLocalAddress, MoveLocalAddress,
//	AddStunServer, AddRelay, RemoveRelay, RestartICE, RelayStreamReset
//
// HandleSegments and SendBatch are the data path's batch forms: they do
// what HandleDatagram does for each datagram, and Send for each payload,
// with the per-call checks made once; SendBatch hands the Data to the
// caller's queue at once, a run of payloads per path (Emit), instead of
// through PollTransmit.
//
// Queries (no time, no output): LocalCredentials, Path, MaxPayload,
// Relays, Stats, ConnStats, RelayStats.
//
// Outputs are drained until empty after every input or command:
//
//	PollTransmit() (Transmit, bool)          // datagrams to send, tagged Control or Data
//	PollEvent() (Event, bool)                // CandidateGathered, CandidateWithdrawn, Connected, PathChanged,
//	                                         // Failed, Closed, RoleChanged, RelayFailed
//	PollTimeout() (time.Time, string, bool)  // next deadline and why
//
// Time never goes backwards inside: a now earlier than one seen before is
// replaced by that one and counted (Stats.ClockBackwards), and the Node
// carries on from there as the caller's clock advances. A now more than
// Config.MaxLateness past the earliest deadline (a suspended machine, a
// stopped process, a clock stepped forward) is a jump: the Node resumes at
// that deadline as if its clock had paused, counts it (Stats.ClockJumps),
// and every timer that was due fires once, in order — no burst of the
// retransmissions and probes the gap would have held. Deadlines from
// PollTimeout are on the caller's clock; it never returns a time before
// the latest now.
//
// # Limits
//
// Everything the network or the application can grow has a named bound:
// connections (Config.MaxConns, ErrTooManyConns), local addresses
// (MaxLocalAddresses), relays (MaxRelays), candidates per connection
// (ice.Config.MaxRemoteCandidates and MaxLocalCandidates:
// ErrTooManyCandidates for signalled ones, DropCandidateLimit for
// peer-reflexive ones), data buffered while connecting (PendingMax,
// ErrPendingFull), routes per connection (one per possible pair; those of
// a peer-reflexive address the peer left go with it), and on
// each relay permissions, channels and queued output (turn.Config). A
// datagram nobody authenticated is dropped and counted and never answered:
// only a check with the right USERNAME and MESSAGE-INTEGRITY gets an
// answer, and the answer is smaller than the check.
//
// # Observability
//
// Stats counts drops by reason and clock corrections for the whole Node;
// ConnStats(id) snapshots a connection (path, the agent's RTT and probe
// counters, datagrams and bytes each way, drops by reason) and
// RelayStats(server) a relay (allocation state, refreshes, stale nonces,
// reallocations, errors).
//
// # The event loop
//
// The drivers and the simulator run it through the shared step,
// pump.Pump.Step (which adds the send queue and its flush); a program with
// a loop of its own runs it on one goroutine, since nothing in the Node is
// safe for concurrent use:
//
//	n, _ := node.New(node.Config{Rand: rand.New(rand.NewChaCha8(seedFromCryptoRand))})
//	n.AddLocalAddress(clock(), socketAddr)          // each bound, non-wildcard address
//	n.AddStunServer(clock(), stunServer)            // optional: server-reflexive candidates
//	n.AddRelay(clock(), turnServer, socketAddr, user, pass) // optional: relayed candidates
//	creds, _ := n.Connect(clock(), peer, node.Controlling, node.Credentials{}, peerCreds)
//	// signal creds (and every CandidateGathered candidate) to the peer
//
//	for {
//		flush := func() {
//			for t, ok := n.PollTransmit(); ok; t, ok = n.PollTransmit() {
//				queue.Enqueue(t.Src, t.Dst, t.Payload, t.Class, t.ECN) // copies the payload
//			}
//			for e, ok := n.PollEvent(); ok; e, ok = n.PollEvent() {
//				switch e := e.(type) {
//				case node.CandidateGathered: signal(e.Conn, e.Candidate.Marshal())
//				case node.CandidateWithdrawn: signalRemoval(e.Conn, e.Candidate) // peer: RemoveRemoteCandidate
//				case node.Connected:         // ready; e.Path
//				case node.PathChanged:       // moved to e.Path
//				case node.Failed:            // e.Reason: CandidateTimeout, ChecksFailed, ProbeTimeout, RelayLost, Internal
//				case node.RelayFailed:    // e.Server lost (e.Reason); tried again after e.RetryIn
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
// Every STUN and TURN message leaves as gso.Control and every application
// datagram as gso.Data, relayed or not, so the queue sends probes ahead of
// bulk data.
//
// # Demultiplexing
//
// HandleDatagram first hands every datagram from a relay's server that
// arrived on that relay's local address to the relay's TURN client, which
// consumes its own signalling and unwraps ChannelData and Data indications.
// What it unwraps is demultiplexed again, as if it had arrived on the
// relayed address from the peer address the relay names. From a peer only
// STUN is peerlink's (stunmsg.IsSTUN: first byte 0-3, the magic cookie and
// a whole header; a Binding request is routed by the ufrag in its
// USERNAME, a response by the tag in its transaction ID). First byte 64-79
// is ChannelData only from a relay's server (RFC 7983, RFC 9443), which the
// relay's client took above; from a peer it is the application's like any
// other byte, delivered for the connection that owns the path (local,
// remote) — a path the peer has authenticated on with a check. Whatever
// nobody wants is dropped and counted by reason in Stats, never a panic.
//
// # Maximum payload
//
// Send refuses a payload larger than the connection's MaxPayload with an
// error wrapping ErrPayloadTooLarge: the UDP limit on a direct path, a
// relay's turn.Config.MaxPayload (WithMaxPayload) through it, and while
// there is no path the least any path could carry (maxpayload.go). It
// changes with the path; Connected and PathChanged are the cue to read it.
// Do not name a relay's server as a STUN server too: its answers would go
// to the relay's client, which gives a server-reflexive candidate anyway.
//
// # Relays
//
// AddRelay starts a TURN client (state/turn) for one server, with the
// timers of Config.Relay; at most Config.MaxRelays. Each connection uses
// one relay, drawn from the seeded source when the connection is created
// (or when its relay goes away) among the live relays holding an
// allocation whose round trip is within 1.5 times the best
// (RelayStats.RTT; relaychoice.go), and the relay is one more local
// candidate of its agent:
//
//   - The allocation becomes a relay candidate (CandidateGathered) of every
//     connection on the relay, present and future; the server-reflexive
//     address the relay reports becomes a srflx candidate like a STUN
//     server's. The agent pairs the relay candidate with every remote one,
//     so connections get pairs through our relay, to the peer's relay (a
//     host candidate paired with the peer's relay candidate, sent directly)
//     and relay to relay.
//   - Before checks start the node asks the relay for a permission toward
//     every remote candidate's IP paired with the relay candidate (and for
//     a peer-reflexive one the moment a check to it is sent). A check that
//     leaves from the relayed address is wrapped by the client (Send
//     indication, or ChannelData once bound) and leaves as Control toward
//     the server; application data on a relayed path leaves as Data.
//   - When a relayed pair becomes the path (Connected or PathChanged), the
//     node binds a channel to its remote end, so data costs 4 bytes of
//     header. Close gives permissions and channels back (reference-counted
//     across the connections on a relay, and through a re-allocation, on
//     which the client asks for them again).
//   - A withdrawn allocation (lost, removed, or replaced after a 437)
//     withdraws the candidate: CandidateWithdrawn, which the application
//     signals so that the peer calls RemoveRemoteCandidate. A connection
//     whose path used it moves to the best other pair that succeeded
//     (PathChanged). With none, it goes back to checking (ice recovery);
//     a peer that loses the relay candidate its path pointed at does the
//     same. A relay that stops answering or refuses our credentials also
//     raises RelayFailed; its connections get another relay if there
//     is one, and the Node starts the relay again with a fresh client
//     after Config.RelayRetry (doubling up to Config.RelayRetryMax; each
//     loss reported again; negative: the relay is forgotten). Once granted,
//     connections without a relay take it (relayretry.go).
//   - A re-allocation (after a 437, or a probe Allocate granted because
//     the old allocation was gone) carries a connection over. The new allocation has a new
//     relayed address, so the old path is gone on both sides; the new
//     relay candidate is gathered at once (CandidateGathered) and paired
//     with every remote candidate, the peer pairs it once signalled (or
//     learns it as peer reflexive from our checks), and the checks find a
//     new path within a round trip or two. The controlling side nominates
//     it, the controlled side follows, and each reports PathChanged, not
//     Connected: the application keeps its state. Meanwhile the
//     connection has no path (Path reports none, ConnStats.Connected is
//     false), and Send buffers as while connecting: up to
//     Config.PendingMax datagrams, sent in order on the new path; beyond
//     that ErrPendingFull, counted in Stats.PendingDropped. No event
//     marks the gap.
//   - A server that restarts (a deploy, a crash) forgets every allocation
//     without a word: its Binding answers look as before, and the next
//     Refresh, which would meet the 437, is up to turn.Config.RefreshAfter
//     away, while
//     everything relayed is dropped. So once a probe on a path through a
//     relay (ours, or the peer's relayed address: each side may send to
//     the other's, so that our allocation carries the peer's path) counts
//     as lost (ice.Config.ProbeLossAfter), the node asks the
//     relay's client to verify our allocation at once (turn.Client.Verify,
//     a Refresh and a probe Allocate; at most one per
//     turn.Config.VerifyInterval, longer while the allocation keeps
//     answering, per relay, counted in RelayStats). A 437 to the Refresh
//     starts the re-allocation above, a grant to the probe is it; silence
//     alone, which loss explains, never is. A path that leaves from our
//     relayed address also gets its permission and channel asked for
//     again (turn.Client.Reinstall): servers configured with lifetimes
//     shorter than RFC 8656's drop them before the client refreshes. The peer cannot
//     verify our allocation: it learns our new relay candidate from
//     signalling, and because a Node
//     keeps one allocation per server, a new relay candidate from the
//     server of the path's remote relay candidate (the same foundation)
//     replaces it. While that path is silent the peer forgets the old
//     candidate as if its withdrawal had been signalled
//     (Stats.PeerRelaysReplaced), so the connection does not wait for a
//     CandidateWithdrawn the application may not signal, nor for
//     ice.Config.SwitchAfter. In the simulator (scenario relay-restart)
//     the connection is carried over 2.5 s after the server restarts.
//   - A connection that finds no new path fails when the lost path's
//     probe timeout passes — ProbeTimeout after its last answer, on the
//     timing (active or idle) it had, so a cut of every path is reported
//     no later than without the relay's loss — with Failed{RelayLost}:
//     the path went away under it and nothing replaced it. It fails with
//     RelayLost at once, as before, when its own relay is lost
//     (RelayFailed, or RemoveRelay) and no other relay took over: the
//     peer's relay path withdrawn next to ours most likely went in the
//     same outage, and failing fast lets the application reconnect.
//     AddRelay, or the lost relay granted again on a retry, makes waiting
//     possible again.
//   - While a relayed pair carries a connection, the pairs that failed and
//     rank above it (the direct ones) are checked again every
//     ice.Config.RecheckInterval, so the connection moves to a direct path
//     (PathChanged) once one opens.
//
// The relays' deadlines sit in the same ordered index as the connections',
// so PollTimeout stays O(log n) and carries the client's reason label
// ("turn: keepalive", "turn: allocation-refresh", ...); HandleTimeout runs
// the due relays and turns their events into the node's outputs in the same
// call, because a relay's event may become a connection's transmit.
//
// # Networks that change
//
// A program keeps its connections across a network change and tells the
// Node what it knows (roam.go, srflx.go):
//
//   - RemoveLocalAddress: the address is gone. Its host candidate and the
//     server-reflexive one learned through it are withdrawn from every
//     connection (CandidateWithdrawn), its pairs fail at once, a relay
//     allocated from it ends (RelayFailed, turn.LostLocalAddress), and a
//     connection whose path used it moves to another working pair
//     (PathChanged) or checks the pairs it has and gets (ice recovery)
//     until the lost path's probe timeout.
//   - MoveLocalAddress: the socket that had one address has another (a
//     rebound socket). The new address is added first, relays allocated
//     from the old one are allocated again from the new one, then the old
//     one is removed as above.
//   - Nothing at all when the peer's address changes (its NAT rebound, it
//     moved): its requests arrive from the new address, the agent checks
//     it and moves there once a probe of the old path stays unanswered for
//     a few round trips (ice roaming). Our own mapping is asked for again
//     every Config.StunRefresh; a changed one replaces its candidate
//     (CandidateWithdrawn, then CandidateGathered).
//   - RestartICE: new credentials and checks of every pair while the
//     current path keeps carrying the data, replaced when the new checks
//     select a pair (PathChanged); see restart.go for the exchange.
//
// # Failure
//
// Misuse (unknown connection, bad credentials, empty payload) returns a
// sentinel error. A failed connection emits Failed with a typed reason and
// keeps its state until Close or a new Connect for its ID. Broken internal
// invariants panic.
package node
