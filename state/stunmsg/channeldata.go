package stunmsg

import (
	"encoding/binary"
	"errors"
)

// ChannelData framing (RFC 8656 section 12.4): a 4-byte header of channel
// number and payload length, then the payload. Over UDP the frame need not be
// padded to a multiple of four, so Encode never pads; Decode accepts either.

const (
	// ChannelDataHeaderSize is the size of the ChannelData header.
	ChannelDataHeaderSize = 4
	// MinChannel and MaxChannel bound the channel numbers a client may bind
	// (RFC 8656 section 12: 0x4000 through 0x4FFF).
	MinChannel = 0x4000
	MaxChannel = 0x4FFF
)

// Errors from ChannelData framing.
var (
	ErrChannelNumber    = errors.New("stunmsg: channel number outside 0x4000-0x4FFF")
	ErrChannelDataShort = errors.New("stunmsg: channeldata shorter than its length field")
	ErrChannelDataLong  = errors.New("stunmsg: channeldata payload longer than 65535 bytes")
)

// AppendChannelData appends a ChannelData frame carrying payload on channel
// ch to dst and returns the extended slice.
func AppendChannelData(dst []byte, ch uint16, payload []byte) ([]byte, error) {
	if ch < MinChannel || ch > MaxChannel {
		return dst, ErrChannelNumber
	}
	if len(payload) > 0xFFFF {
		return dst, ErrChannelDataLong
	}
	dst = binary.BigEndian.AppendUint16(dst, ch)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}

// DecodeChannelData returns the channel number and the payload (a sub-slice
// of b). Trailing bytes beyond the length field (padding, at most 3 in a
// well-formed frame) are ignored.
func DecodeChannelData(b []byte) (ch uint16, payload []byte, err error) {
	if len(b) < ChannelDataHeaderSize {
		return 0, nil, ErrChannelDataShort
	}
	ch = binary.BigEndian.Uint16(b[0:2])
	if ch < MinChannel || ch > MaxChannel {
		return 0, nil, ErrChannelNumber
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if len(b)-ChannelDataHeaderSize < n {
		return 0, nil, ErrChannelDataShort
	}
	return ch, b[ChannelDataHeaderSize : ChannelDataHeaderSize+n], nil
}

// AppendChannelDataPadded is AppendChannelData with the frame padded with
// zeros to a multiple of 4 bytes, as every ChannelData on a stream
// transport must be (RFC 8656 section 12.5): the length field does not
// count the padding, and the receiver skips it to find the next message.
func AppendChannelDataPadded(dst []byte, ch uint16, payload []byte) ([]byte, error) {
	dst, err := AppendChannelData(dst, ch, payload)
	if err != nil {
		return dst, err
	}
	var zeros [3]byte
	return append(dst, zeros[:pad4(len(payload))]...), nil
}

// pad4 is how many bytes bring n to a multiple of 4.
func pad4(n int) int { return (4 - n%4) % 4 }
