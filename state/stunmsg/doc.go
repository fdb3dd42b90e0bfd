// Package stunmsg holds the wire formats the connection core speaks, built on
// github.com/pion/stun/v2: ICE Binding requests and responses (RFC 8445 over
// RFC 8489), plain Binding for STUN servers, ChannelData framing for relayed
// paths, the demultiplexer (IsSTUN for any datagram; ClassifyFromServer,
// which alone knows ChannelData, for datagrams from a TURN server), and ICE
// candidates with their priorities and `candidate:` attribute syntax.
//
// Everything here is pure: callers supply transaction IDs (from their seeded
// source; pion's own random IDs are never used) and every parser returns an
// error on malformed input instead of panicking, because every byte it sees
// came off the network. TURN messages (Allocate, Refresh, CreatePermission,
// ChannelBind, Send/Data indications) belong in this package too and will be
// added next to binding.go by the TURN work.
package stunmsg
