package stunmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Stream framing (RFC 8656 section 12.5, RFC 8489 section 6.2.2): on a TCP
// or TLS connection to a TURN server, STUN messages and ChannelData frames
// follow each other with nothing in between. A STUN message says its length
// in its header (always a multiple of 4); a ChannelData frame says its
// payload length and is padded to a multiple of 4. Any other first byte
// means the stream lost its framing, and nothing after it can be trusted.

// MaxStreamMessage is the longest message a stream can carry: a STUN
// header and the largest body its 16-bit length allows (a multiple of 4).
// A ChannelData frame with padding is shorter (4 + 65535 + 1).
const MaxStreamMessage = HeaderSize + 0xFFFC

// ErrStreamCorrupt: the stream holds bytes that start no message a TURN
// server sends. The stream cannot be resynchronised; close it.
var ErrStreamCorrupt = errors.New("stunmsg: stream framing lost")

// StreamFramer cuts the bytes read from one stream into messages. Its
// buffer is fixed at MaxStreamMessage bytes, so a peer that sends garbage
// or never finishes a message costs no more memory than that. It is pure
// and not safe for concurrent use: one reader owns it.
//
// The loop that uses it:
//
//	for {
//		n, err := stream.Read(f.Space())
//		f.Filled(n)
//		for {
//			msg, err := f.Next()
//			if err != nil { close the stream }
//			if msg == nil { break } // needs more bytes
//			handle(msg) // valid until the next Space
//		}
//		if err != nil { the stream ended }
//	}
type StreamFramer struct {
	buf        []byte
	start, end int
}

// NewStreamFramer returns a framer with its buffer allocated.
func NewStreamFramer() *StreamFramer {
	return &StreamFramer{buf: make([]byte, MaxStreamMessage)}
}

// Space returns the free tail of the buffer, for the next read. It moves
// any partial message to the front first, so messages Next returned
// before are no longer valid. It is never empty while Next has not
// reported an error: a partial message is shorter than the buffer.
func (f *StreamFramer) Space() []byte {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	return f.buf[f.end:]
}

// Filled records that n bytes were read into the slice Space returned.
func (f *StreamFramer) Filled(n int) {
	if n < 0 || f.end+n > len(f.buf) {
		panic("stunmsg: Filled beyond the space given")
	}
	f.end += n
}

// Buffered is how many bytes wait for the rest of their message.
func (f *StreamFramer) Buffered() int { return f.end - f.start }

// Next returns the next whole message, without ChannelData's padding, or
// nil when it needs more bytes. The message aliases the buffer and stays
// valid until the next Space. An error (wrapping ErrStreamCorrupt) is
// final: every later call returns it again.
func (f *StreamFramer) Next() ([]byte, error) {
	b := f.buf[f.start:f.end]
	if len(b) == 0 {
		return nil, nil
	}
	size, msg, err := frameSize(b)
	if err != nil {
		// Stay on the bad bytes, so the error repeats.
		return nil, err
	}
	if size == 0 || len(b) < size {
		return nil, nil
	}
	f.start += size
	return b[:msg], nil
}

// frameSize returns the bytes the message at the front of b occupies on
// the stream and the length of the message itself, or 0 when b is too
// short to tell.
func frameSize(b []byte) (size, msg int, err error) {
	switch first := b[0]; {
	case first <= 3:
		if len(b) < 8 {
			return 0, 0, nil
		}
		if binary.BigEndian.Uint32(b[4:8]) != MagicCookie {
			return 0, 0, fmt.Errorf("%w: STUN header without the magic cookie", ErrStreamCorrupt)
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n%4 != 0 {
			return 0, 0, fmt.Errorf("%w: STUN length %d is not a multiple of 4", ErrStreamCorrupt, n)
		}
		return HeaderSize + n, HeaderSize + n, nil
	case first >= 64 && first <= 79:
		if len(b) < ChannelDataHeaderSize {
			return 0, 0, nil
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		return ChannelDataHeaderSize + n + pad4(n), ChannelDataHeaderSize + n, nil
	default:
		return 0, 0, fmt.Errorf("%w: first byte %d starts neither STUN nor ChannelData", ErrStreamCorrupt, first)
	}
}
