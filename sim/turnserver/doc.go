// Package turnserver is a TURN server (RFC 8656 over UDP, long-term
// credentials per RFC 8489) as a sans-IO state machine: no sockets, no
// clock, no goroutines, randomness from a supplied seeded source. The
// simulator runs it as a relay host; tests of the TURN client use it as a
// real responder.
//
// What it implements: the 401 challenge with REALM and NONCE, MESSAGE-
// INTEGRITY checks (MD5 long-term key), 438 Stale Nonce with a fresh nonce,
// Allocate (REQUESTED-TRANSPORT UDP only, lifetime clamped between the
// default and the maximum, identical answer to a retransmission, 437 for a
// second allocation on the 5-tuple), Refresh (LIFETIME 0 deletes),
// CreatePermission (300 s, by peer IP), ChannelBind (0x4000-0x4FFF, 600 s,
// no rebinding to another peer), Send and Data indications, ChannelData in
// both directions (outgoing padding configurable, incoming either way),
// 437 for requests without an allocation, 441 for another user's
// allocation, 420 for unknown comprehension-required attributes, and plain
// Binding requests. Problems with indications and data are dropped and
// counted in Stats, never answered.
//
// Not implemented: TCP allocations (RFC 6062), reservations (EVEN-PORT's R
// bit, RESERVATION-TOKEN get 508), SHA-256 password algorithms, the
// five-minute quarantine of an expired channel number, DONT-FRAGMENT.
//
// The loop that drives it:
//
//	srv, err := turnserver.New(cfg)
//	for each datagram b from remote arriving at local:
//		srv.HandleDatagram(now, remote, local, b)
//		for tr, ok := srv.PollTransmit(); ok; tr, ok = srv.PollTransmit() {
//			send tr.Payload from tr.From to tr.To
//		}
//	when now reaches the instant srv.PollTimeout reports:
//		srv.HandleTimeout(now)
//
// local is either the address clients talk to (any address not a relayed
// one) or a relayed address, to which peers send.
package turnserver
