// Package turn is peerlink's TURN client (RFC 8656 over UDP, or over TCP or
// TLS to the server with the relayed leg UDP; long-term credentials from
// RFC 8489): one Client per relay server. Over a stream (Config.Transport)
// the client pads ChannelData and marks its transmits; the driver owns
// the stream. It is sans-IO
// like the rest of state/: it is given time, datagrams and commands and
// hands back datagrams to send, events and its next deadline. It never
// reads a clock, owns no socket, starts no goroutine and draws every
// transaction ID from the seeded source in its Identity.
//
// # Life of a client
//
// New queues a Binding request (the server-reflexive address, and proof
// the server is there), then Allocate asks for a UDP relay. The server's
// 401 challenge brings REALM and NONCE and the client retries once with
// USERNAME, REALM, NONCE and MESSAGE-INTEGRITY under a fresh transaction
// ID; 438 (stale nonce) retries likewise with the new nonce. A 401 after
// credentials were sent (or pion/turn's unsigned 400) is an authentication
// failure: EventLost{LostAuth}, no retry. Every success response to a
// signed request must carry valid MESSAGE-INTEGRITY; responses whose
// transaction ID matches no request are dropped before any HMAC is
// computed.
//
// While allocated the client refreshes the allocation after half its
// granted LIFETIME (at most Config.RefreshAfter), each permission every
// Config.PermissionRefreshAfter and each channel every
// Config.ChannelRefreshAfter, within the lifetimes the server keeps them,
// and sends a Binding every Config.KeepaliveInterval so the NAT mapping
// toward the relay stays open. A 437 (allocation gone) makes
// it allocate afresh: EventWithdrawn, then EventAllocated with the new
// relayed address, and every permission and channel is asked for again.
// Silence alone never does: a Refresh the server leaves unanswered while
// it answers other requests (pion/turn's way with an allocation it lost,
// or plain loss) is settled by a probe, an Allocate that meets 437 while
// the allocation is held and is granted when it was gone; an unanswered
// probe goes again with its transaction ID, so that a grant whose answers
// were lost is learned too (realloc.go).
// A server that restarted forgets every allocation but still answers
// Binding, so the keepalives miss it; the owner that sees a path through
// the allocation go silent calls Verify, which sends a Refresh and a probe
// at once (at most one per Config.VerifyInterval, longer while the
// allocation keeps answering; Stats.Verifications), so that the 437 or
// the grant comes within a round trip or two instead of at the next
// scheduled Refresh, minutes away (verify.go). Over TCP or TLS the
// server ties the allocation to its stream, so the owner whose stream
// broke and was dialled again calls StreamReset: the same verification,
// at once whatever the rate limit, with what was in flight sent again on
// the new stream. The same owner calls
// Reinstall for the peer of a silent path: servers configured with
// permission and channel lifetimes shorter than RFC 8656's drop what the
// client thinks installed, and asking again costs one round trip; two
// such silences at like ages shorten every refresh period to half that
// age (reinstall.go).
// A 437 to Allocate means the server still holds an allocation on this
// 5-tuple from an earlier life of the socket: the client deletes it
// (Refresh, LIFETIME 0) and allocates again, waiting a second, then two,
// from the third attempt on, for servers that delete on a timer (coturn).
// Config.Family asks for an IPv6 or a dual-stack allocation (one relayed
// address per family, Event.Additional) instead of the server's default,
// and Config.Alternate races the server's second address: the first to
// answer the Binding is kept (family.go, race.go).
// Every answer to a request sent once is a round-trip sample; Client.RTT
// gives the smoothed value, by which the node prefers near relays.
// A relay that answers nothing for a whole request schedule
// (Config.RequestTimeout) is lost: EventWithdrawn,
// EventLost{LostTimeout}. Close sends LIFETIME 0 and ends with EventClosed.
//
// # The event loop
//
// The owner (state/node, or a test) feeds every datagram from
// Client.Server() to HandleDatagram, calls HandleTimeout when the
// deadline from PollTimeout passes, and after every input or command
// drains the outputs:
//
//	c, err := turn.New(now, id, cfg) // id: server, local address, credentials, Rand
//	for {
//		for t, ok := c.PollTransmit(); ok; t, ok = c.PollTransmit() {
//			queue.Enqueue(t) // Control class: TURN signalling
//		}
//		for e, ok := c.PollEvent(); ok; e, ok = c.PollEvent() {
//			handle(e) // EventAllocated: a relay candidate; EventLost: withdraw it
//		}
//		deadline, _, ok := c.PollTimeout()
//		select { // in a real-time driver
//		case d := <-datagrams: // from c.Server()
//			if handled, peer, payload := c.HandleDatagram(now, d.From, d.Bytes); handled && payload != nil {
//				deliver(peer, payload) // relayed application data
//			}
//		case <-timerFor(deadline, ok):
//			c.HandleTimeout(now)
//		case cmd := <-commands:
//			c.BindChannel(now, peer) // or CreatePermission, Send, RemovePeer, Close
//		}
//	}
//
// Send and AppendSend return their Transmit directly (Data class for
// application payloads, or the class the caller names): relayed data never
// waits in the client. ChannelData goes out unpadded and is accepted padded
// (pion/turn) or not (coturn).
package turn
