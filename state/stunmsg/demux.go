package stunmsg

import "encoding/binary"

// Kind is what a received datagram is, judged by RFC 7983's first-byte ranges.
type Kind uint8

const (
	// KindApp is application data (anything that is neither STUN nor
	// ChannelData); the core hands it to the connection that owns the path.
	KindApp Kind = iota
	// KindSTUN is a STUN message: first byte 0-3 and the magic cookie.
	KindSTUN
	// KindChannelData is a TURN ChannelData frame: first byte 64-79. It is
	// only meaningful when it comes from a relay server.
	KindChannelData
)

func (k Kind) String() string {
	switch k {
	case KindApp:
		return "app"
	case KindSTUN:
		return "stun"
	case KindChannelData:
		return "channeldata"
	}
	return "invalid"
}

// MagicCookie is the fixed value in bytes 4-8 of every RFC 5389+ STUN header.
const MagicCookie = 0x2112A442

// HeaderSize is the size of a STUN message header.
const HeaderSize = 20

// Classify returns the kind of b. The first byte alone is not enough for
// STUN: WireGuard messages, for example, start with 1-4 too, so a STUN
// message must also carry the magic cookie and a whole header. Anything short
// or unrecognised is application data; the owner of the path decides whether
// it wants it.
func Classify(b []byte) Kind {
	if len(b) == 0 {
		return KindApp
	}
	switch first := b[0]; {
	case first <= 3:
		if len(b) >= HeaderSize && binary.BigEndian.Uint32(b[4:8]) == MagicCookie {
			return KindSTUN
		}
	case first >= 64 && first <= 79:
		return KindChannelData
	}
	return KindApp
}
