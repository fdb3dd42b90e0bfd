package stunmsg

import "encoding/binary"

// The demultiplexer. A datagram from a peer (directly, or unwrapped by a
// relay) belongs to the application unless it is STUN with the magic cookie:
// first byte 0-3, cookie at bytes 4-7 and a whole header. Only a datagram
// from a TURN server may also be ChannelData (first byte 64-79): RFC 7983
// and RFC 9443 give that range to TURN only on the 5-tuple toward the
// server. From anyone else the same byte is the application's (ASCII '@'
// to 'O', a QUIC short header), so there is deliberately no classifier that
// answers "ChannelData" for an arbitrary datagram.

// MagicCookie is the fixed value in bytes 4-8 of every RFC 5389+ STUN header.
const MagicCookie = 0x2112A442

// HeaderSize is the size of a STUN message header.
const HeaderSize = 20

// IsSTUN reports whether b is what peerlink claims on every path: a STUN
// message. The first byte alone is not enough: WireGuard messages, for
// example, start with 1-4 too, so b must also carry the magic cookie and a
// whole header. Everything else from a peer is application data.
func IsSTUN(b []byte) bool {
	return len(b) >= HeaderSize && b[0] <= 3 && binary.BigEndian.Uint32(b[4:8]) == MagicCookie
}

// ServerKind is what a datagram from a TURN server is to that server's
// client.
type ServerKind uint8

const (
	// ServerOther is neither STUN nor ChannelData: nothing a TURN server
	// sends over UDP; the client drops it.
	ServerOther ServerKind = iota
	// ServerSTUN is a STUN message (IsSTUN): responses, Data indications.
	ServerSTUN
	// ServerChannelData is a ChannelData frame (first byte 64-79).
	ServerChannelData
)

func (k ServerKind) String() string {
	switch k {
	case ServerOther:
		return "other"
	case ServerSTUN:
		return "stun"
	case ServerChannelData:
		return "channeldata"
	}
	return "invalid"
}

// ClassifyFromServer classifies a datagram that came from a TURN server's
// address, the only source from which first byte 64-79 means ChannelData.
// Never call it on a datagram from a peer: use IsSTUN.
func ClassifyFromServer(b []byte) ServerKind {
	switch {
	case IsSTUN(b):
		return ServerSTUN
	case len(b) > 0 && b[0] >= 64 && b[0] <= 79:
		return ServerChannelData
	}
	return ServerOther
}
