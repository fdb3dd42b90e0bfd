package stunmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// streamOf frames msgs for a stream: STUN as is, ChannelData padded.
func streamOf(t testing.TB, payloads [][]byte) (stream []byte, want [][]byte) {
	t.Helper()
	for i, p := range payloads {
		var msg []byte
		if i%2 == 0 {
			msg = PlainBindingRequest(TxID{byte(i)})
			stream = append(stream, msg...)
		} else {
			var err error
			if msg, err = AppendChannelData(nil, MinChannel+uint16(i), p); err != nil {
				t.Fatal(err)
			}
			if stream, err = AppendChannelDataPadded(stream, MinChannel+uint16(i), p); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, msg)
	}
	return stream, want
}

// feed reads stream into f in chunks of the given sizes (cycling) and
// returns the messages cut, copied, and the first error.
func feed(f *StreamFramer, stream []byte, chunks []int) (got [][]byte, err error) {
	for i := 0; len(stream) > 0; i++ {
		space := f.Space()
		n := min(len(space), len(stream), max(chunks[i%len(chunks)], 1))
		copy(space, stream[:n])
		f.Filled(n)
		stream = stream[n:]
		for {
			msg, err := f.Next()
			if err != nil {
				return got, err
			}
			if msg == nil {
				break
			}
			got = append(got, append([]byte(nil), msg...))
		}
	}
	return got, nil
}

func TestStreamFramerCutsMessagesWhateverTheReadBoundaries(t *testing.T) {
	stream, want := streamOf(t, [][]byte{nil, {1}, nil, {1, 2}, nil, {1, 2, 3}, nil, {1, 2, 3, 4}, nil, {}, nil, make([]byte, 1201)})
	for _, chunks := range [][]int{{1}, {2}, {3}, {7}, {len(stream)}, {5, 1, 64, 3}} {
		got, err := feed(NewStreamFramer(), stream, chunks)
		if err != nil {
			t.Fatalf("chunks %v: %v", chunks, err)
		}
		if len(got) != len(want) {
			t.Fatalf("chunks %v: %d messages, want %d", chunks, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("chunks %v: message %d is %x, want %x", chunks, i, got[i], want[i])
			}
		}
	}
}

func TestUnpaddedChannelDataOnAStreamLosesTheFraming(t *testing.T) {
	// A sender that forgets the padding shifts every later message by
	// the missing bytes: the next one no longer starts where a message
	// can, and the framer says so instead of handing on garbage.
	cd, _ := AppendChannelData(nil, MinChannel, []byte{1, 2, 3})
	stream := append(cd, PlainBindingRequest(TxID{1})...)
	got, err := feed(NewStreamFramer(), stream, []int{len(stream)})
	if !errors.Is(err, ErrStreamCorrupt) {
		t.Fatalf("got %d messages and err %v, want ErrStreamCorrupt", len(got), err)
	}
}

func TestStreamFramerRefusesBytesThatStartNoMessage(t *testing.T) {
	bad := map[string][]byte{
		"first byte 0x80":      {0x80, 0, 0, 0},
		"STUN without cookie":  {0, 1, 0, 0, 1, 2, 3, 4},
		"STUN length not 4k":   {0, 1, 0, 5, 0x21, 0x12, 0xA4, 0x42},
		"first byte 4 (DTLS?)": {4},
	}
	for name, b := range bad {
		f := NewStreamFramer()
		copy(f.Space(), b)
		f.Filled(len(b))
		if _, err := f.Next(); !errors.Is(err, ErrStreamCorrupt) {
			t.Errorf("%s: err %v, want ErrStreamCorrupt", name, err)
		}
		if _, err := f.Next(); !errors.Is(err, ErrStreamCorrupt) {
			t.Errorf("%s: a second Next forgot the error: %v", name, err)
		}
	}
}

func TestStreamFramerHoldsTheLargestMessageAndNoMore(t *testing.T) {
	// A STUN header announcing the largest body: the framer waits for
	// it with its fixed buffer, never growing.
	f := NewStreamFramer()
	hdr := []byte{0, 1, 0xFF, 0xFC, 0x21, 0x12, 0xA4, 0x42}
	total := 0
	for total < MaxStreamMessage {
		space := f.Space()
		if len(space) == 0 {
			t.Fatalf("no space after %d bytes of one message", total)
		}
		n := copy(space, hdr)
		if total > 0 || n == 0 {
			n = len(space)
		}
		f.Filled(n)
		total += n
		if msg, err := f.Next(); err != nil || (msg != nil) != (total == MaxStreamMessage) {
			t.Fatalf("after %d bytes: msg %d bytes, err %v", total, len(msg), err)
		}
	}
	if cap(f.buf) != MaxStreamMessage {
		t.Fatalf("buffer grew to %d", cap(f.buf))
	}
}

// FuzzStreamFramer cuts arbitrary bytes at arbitrary read boundaries: it
// never panics, every message it returns is one a TURN client parses as a
// whole STUN message or ChannelData frame, it never holds more than its
// buffer, and a stream of well-formed messages comes back whole.
func FuzzStreamFramer(f *testing.F) {
	good, _ := streamOf(f, [][]byte{nil, {1, 2, 3}, nil, make([]byte, 100)})
	f.Add(good, []byte{1, 7, 3})
	f.Add([]byte{0x40, 0, 0, 1, 9, 0, 0, 0, 0x80}, []byte{2})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		chunks := []int{len(stream)}
		if len(cuts) > 0 {
			chunks = chunks[:0]
			for _, c := range cuts {
				chunks = append(chunks, int(c))
			}
		}
		fr := NewStreamFramer()
		got, err := feed(fr, stream, chunks)
		for _, m := range got {
			switch ClassifyFromServer(m) {
			case ServerSTUN:
				if n := int(binary.BigEndian.Uint16(m[2:4])); len(m) != HeaderSize+n {
					t.Fatalf("STUN message of %d bytes says %d", len(m), n)
				}
			case ServerChannelData:
				if _, p, derr := DecodeChannelData(m); derr != nil || len(p)+ChannelDataHeaderSize != len(m) {
					t.Fatalf("ChannelData %x: %v", m, derr)
				}
			default:
				t.Fatalf("message %x is neither STUN nor ChannelData", m)
			}
		}
		if err != nil && !errors.Is(err, ErrStreamCorrupt) {
			t.Fatalf("error %v does not wrap ErrStreamCorrupt", err)
		}
		if fr.Buffered() > MaxStreamMessage || cap(fr.buf) != MaxStreamMessage {
			t.Fatalf("buffered %d, buffer %d", fr.Buffered(), cap(fr.buf))
		}
		// Well-formed input round-trips.
		again, want := streamOf(t, [][]byte{nil, stream})
		if len(stream) > 0xFFFF {
			return
		}
		back, err := feed(NewStreamFramer(), again, chunks)
		if err != nil || len(back) != len(want) || !bytes.Equal(back[1], want[1]) {
			t.Fatalf("well-formed stream: %d messages, err %v", len(back), err)
		}
	})
}
