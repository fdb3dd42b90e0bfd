// Package gso is peerlink's send queue: datagrams wait here between the
// connection core and the socket, grouped into batches that one send with
// UDP GSO (or sendmmsg) can carry. It is a pure data structure: no socket,
// no clock, no goroutine.
//
// Every datagram has a Class. Control (STUN and TURN: what keeps a
// connection alive) overtakes Data (the application's payloads) under the
// ControlFirst policy, and the datagrams of one flow (source, destination,
// ECN and class) are never reordered. Each class has its own byte bound;
// Enqueue refuses Data beyond it with ErrQueueFull (back-pressure), and
// Control is never refused because of Data.
//
// # Verbs
//
//	Enqueue(src, dst, payload, class, ecn) // copies payload into a batch
//	Peek(dst) / PeekLimit(dst, dataBytes)  // the batches to send next, in order
//	Advance(n)                             // n datagrams were taken by the kernel
//	PollTimeout() / HandleTimeout(now)     // release of idle pooled buffers
//
// Queries: Empty, Len, HeldBytes, QueuedBytes, DataLimit, Caps, Stats.
// Dropping: DropOldestData (the head-drop overflow policy) and DropSource
// (an address the program no longer has).
//
// A flush peeks, sends, and advances by what the kernel took; the rest stays
// queued, in order:
//
//	batches := q.Peek(buf[:0])
//	n, err := conn.Send(batches)
//	q.Advance(n)
package gso
