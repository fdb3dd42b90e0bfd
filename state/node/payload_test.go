package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// PayloadCases is the application payloads every path must deliver
// byte-exact: for each first byte 0-255, the short lengths around every
// header peerlink knows (ChannelData's 4, STUN's 20), the path's maximum and
// one below, and a few lengths drawn up to the maximum. Payloads starting
// 64-79 carry a well-formed ChannelData length field; payloads starting 0-3
// never carry the STUN magic cookie at bytes 4-7 with a whole header, which
// is the one thing peerlink claims (stunmsg.IsSTUN), except that short ones
// carry the cookie without a whole header, which is still the application's.
func payloadCases(max int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out [][]byte
	for first := range 256 {
		lengths := []int{1, 2, 3, 4, 5, 7, 8, 12, 19, 20, 21, 24, 100, max - 1, max}
		for range 3 {
			lengths = append(lengths, 1+rng.IntN(max))
		}
		for _, n := range lengths {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] = byte(first)
			switch {
			case first >= 64 && first <= 79 && n >= 4:
				binary.BigEndian.PutUint16(b[2:4], uint16(n-4))
			case first <= 3 && n >= 8 && n < stunmsg.HeaderSize:
				binary.BigEndian.PutUint32(b[4:8], stunmsg.MagicCookie)
			case first <= 3 && n >= stunmsg.HeaderSize && binary.BigEndian.Uint32(b[4:8]) == stunmsg.MagicCookie:
				b[4] ^= 0xFF
			}
			if stunmsg.IsSTUN(b) {
				panic("payloadCases made a STUN message")
			}
			out = append(out, b)
		}
	}
	return out
}

// deliverAll sends every case from side i in batches and checks that the
// other side got each, in order, byte for byte.
func (h *pairHarness) deliverAll(t *testing.T, from int, cases [][]byte) {
	t.Helper()
	h.keep = true
	to := 1 - from
	for start := 0; start < len(cases); start += 32 {
		batch := cases[start:min(start+32, len(cases))]
		h.payloads[to] = nil
		for _, b := range batch {
			if err := h.nodes[from].Send(h.now, connID, b); err != nil {
				t.Fatalf("Send of %d bytes starting %d: %v", len(b), b[0], err)
			}
		}
		h.drain()
		h.runFor(100 * time.Millisecond)
		got := h.payloads[to]
		for k, b := range batch {
			if k >= len(got) || !bytes.Equal(got[k], b) {
				t.Fatalf("%s: payload %d of %d bytes starting %d (%q) not delivered byte-exact (%d of %d arrived); drops %v",
					names[from], start+k, len(b), b[0], b[0], len(got), len(batch), h.nodes[to].Stats().Dropped)
			}
		}
		if len(got) != len(batch) {
			t.Fatalf("%d payloads arrived for %d sent", len(got), len(batch))
		}
	}
}

func TestEveryFirstByteAndLengthIsDeliveredOnADirectPath(t *testing.T) {
	h := newPairHarness(t, 40, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i := range h.nodes {
		m, err := h.nodes[i].MaxPayload(connID)
		if err != nil || m != gso.MaxBytesIPv4 {
			t.Fatalf("%s: MaxPayload = %d, %v; want the IPv4 UDP limit %d", names[i], m, err, gso.MaxBytesIPv4)
		}
		h.deliverAll(t, i, payloadCases(m, uint64(i)))
	}
}

func TestEveryFirstByteAndLengthIsDeliveredOnARelayedPath(t *testing.T) {
	h := newRelayPair(t, 41)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i := range h.nodes {
		if p, _ := h.nodes[i].Path(connID); !throughRelay(p) {
			t.Fatalf("%s: path %v is not relayed", names[i], p)
		}
		m, err := h.nodes[i].MaxPayload(connID)
		if err != nil || m != turn.DefaultMaxPayload {
			t.Fatalf("%s: MaxPayload = %d, %v; want the relay's %d", names[i], m, err, turn.DefaultMaxPayload)
		}
		// One side sends through its relay (ChannelData to the server),
		// the other to the peer's relayed address, which the server wraps
		// for the peer: both the sending and the unwrapping demux are
		// crossed.
		h.deliverAll(t, i, payloadCases(m, uint64(10+i)))
	}
}

// A payload over the relayed path's maximum is refused with an error that
// says both sizes; the maximum itself travels. On a direct path the UDP
// limit holds instead.
func TestSendRefusesWhatThePathCannotCarryAndTakesItsMaximum(t *testing.T) {
	h := newRelayPair(t, 42)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	n := h.nodes[0]
	err := n.Send(h.now, connID, make([]byte, turn.DefaultMaxPayload+1))
	if !errors.Is(err, ErrPayloadTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(turn.DefaultMaxPayload)) {
		t.Fatalf("Send over the relay's maximum: %v; want ErrPayloadTooLarge naming %d", err, turn.DefaultMaxPayload)
	}
	h.keep = true
	h.send(0, 1, turn.DefaultMaxPayload)
	h.runFor(time.Second)
	if len(h.payloads[1]) != 1 || len(h.payloads[1][0]) != turn.DefaultMaxPayload {
		t.Fatalf("the maximum-size payload did not arrive: %d payloads", len(h.payloads[1]))
	}

	d := newPairHarness(t, 43, ice.Config{})
	d.quiet = true
	d.connect([2]Role{Controlling, Controlled})
	d.runFor(3 * time.Second)
	d.mustConnect()
	if err := d.nodes[0].Send(d.now, connID, make([]byte, gso.MaxBytesIPv4+1)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("Send over the UDP limit on a direct path: %v", err)
	}
	if err := d.nodes[0].Send(d.now, connID, make([]byte, gso.MaxBytesIPv4)); err != nil {
		t.Fatalf("Send of the UDP limit on a direct path: %v", err)
	}
}

// A relay configured to carry less (WithMaxPayload) bounds the paths that
// leave from it; a path to the peer's relay is bounded by what we assume
// of the peer's relays (Config.Relay.MaxPayload); and before a connection
// has a path Send takes only what every path carries.
func TestARelaysOwnMaxPayloadBoundsItsPathsAndTheBufferBeforeConnecting(t *testing.T) {
	h := newPairHarness(t, 44, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
		n.cfg.Relay.MaxPayload = 900
	}
	h.blockDirect = true
	h.quiet = true
	h.withRelayOpts(WithMaxPayload(600))
	h.connect([2]Role{Controlling, Controlled})
	if m, err := h.nodes[0].MaxPayload(connID); err != nil || m != 600 {
		t.Fatalf("MaxPayload before connecting = %d, %v; want the least of every path, 600", m, err)
	}
	if err := h.nodes[0].Send(h.now, connID, make([]byte, 601)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("buffering over the least any path carries: %v", err)
	}
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i, n := range h.nodes {
		p, _ := n.Path(connID)
		want := 900 // to the peer's relay, from our host address
		if p.Local.Type == stunmsg.Relay {
			want = 600 // from our own relay
		}
		t.Logf("%s: path %v", names[i], p)
		if m, _ := n.MaxPayload(connID); m != want {
			t.Fatalf("%s: MaxPayload on %v = %d, want %d", names[i], p, m, want)
		}
	}
	if _, err := h.nodes[0].MaxPayload(99); !errors.Is(err, ErrUnknownConn) {
		t.Fatalf("MaxPayload of an unknown connection: %v", err)
	}
}

// MaxPayload follows the selected path: a relayed connection that moves to
// the direct path (PathChanged) carries the UDP limit from then on.
func TestMaxPayloadChangesWithThePath(t *testing.T) {
	h := newRelayPair(t, 13)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(20 * time.Second)
	h.mustConnect()
	if m, _ := h.nodes[0].MaxPayload(connID); m != turn.DefaultMaxPayload {
		t.Fatalf("relayed: MaxPayload %d, want %d", m, turn.DefaultMaxPayload)
	}
	h.events[0] = nil
	h.blockDirect = false
	h.runFor(ice.DefaultConfig().RecheckInterval + 5*time.Second)
	changed := false
	for _, e := range h.events[0] {
		_, ok := e.(PathChanged)
		changed = changed || ok
	}
	if p, _ := h.nodes[0].Path(connID); !changed || throughRelay(p) {
		t.Fatalf("no PathChanged to the direct path (path %v)", p)
	}
	if m, _ := h.nodes[0].MaxPayload(connID); m != gso.MaxBytesIPv4 {
		t.Fatalf("direct after PathChanged: MaxPayload %d, want %d", m, gso.MaxBytesIPv4)
	}
	h.send(0, 1, gso.MaxBytesIPv4)
}
