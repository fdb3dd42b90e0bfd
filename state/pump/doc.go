// Package pump is the step the drivers and the simulator share: it joins a
// node.Node, its gso.Queue and a Conn (one UDP socket, or the simulator's
// stand-in). Received datagrams and expired timers go into the Node, the
// Node's transmits into the queue, and the queue into the Conn until the
// socket would block or the kernel budget holds Data back. It reads no
// clock and starts no goroutine; its owner passes now and calls it from
// one goroutine.
//
// # Verbs
//
// Inputs, each taking now:
//
//	HandleMessages(now, msgs, deliver) // received datagrams; deliver gets each payload
//	HandleTimeout(now)                 // the PollTimeout deadline came
//	Send, SendBatch                    // the application's payloads (gso.ErrQueueFull: back-pressure)
//	SetWritable()                      // the socket can take more after a Blocked flush
//
// The step, after every input: Step(now, onEvent) collects the Node's
// transmits into the queue, hands its events to onEvent, moves the flush
// on by one round and reports the next deadline. The round it returns is
// for the caller's Conn.Send, on any goroutine; Sent(n, err) answers it.
// Flush(now) is the same with the Conn called in place, until the queue is
// empty, blocked or held.
//
// Relays over TCP or TLS: their transmits skip the queue and wait in an
// outbox bounded per stream, Control first, for the driver's streams:
// FlushStreams (each stream takes what it can, a full one holds back only
// its own), StreamRoom (a stream that refused has room: flush again) and
// StreamWritable (Data a stream refused would be taken again).
//
// Outputs and queries: PollTimeout (the next deadline and why), DataWritable
// (Data refused for back-pressure would be taken again), Writable (the
// same for wherever Data was refused: the queue, a stream) and
// ForgetRefusals (before a send when nobody waits), WantsWritable,
// Stats, Node and Queue. Network changes: SetConn (a rebound socket) and
// DropFrom (an address the program no longer has).
//
// Commands and events of the connections go to the Node itself
// (Pump.Node); after each, the caller flushes.
package pump
