package node

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// segmentsMessage is a coalesced message of seg-byte datagrams: application
// payloads, a STUN message in the middle (which the Node takes and drops,
// not having asked for it) and a shorter last datagram.
func segmentsMessage(seg int) []byte {
	var b []byte
	for i := range 6 {
		b = append(b, bytes.Repeat([]byte{byte(0x90 + i)}, seg)...)
		if i == 2 {
			m := make([]byte, seg)
			binary.BigEndian.PutUint16(m[0:2], 0x0001) // a Binding request
			binary.BigEndian.PutUint16(m[2:4], uint16(seg-stunmsg.HeaderSize))
			binary.BigEndian.PutUint32(m[4:8], stunmsg.MagicCookie)
			b = append(b, m...)
		}
	}
	return append(b, 0x99, 0x98, 0x97)
}

// TestHandleSegmentsIsHandleDatagramForEach: a coalesced message handled
// at once leaves the Node where handling its datagrams one by one does,
// with the same payloads delivered in the same order, from a known path
// and from an unknown one.
func TestHandleSegmentsIsHandleDatagramForEach(t *testing.T) {
	const seg = 100
	msg := segmentsMessage(seg)
	stranger := netip.MustParseAddrPort("10.0.0.9:9999")
	for _, from := range []netip.AddrPort{{}, stranger} {
		var hs [2]*pairHarness
		for i := range hs {
			hs[i] = newPairHarness(t, 45, ice.Config{})
			hs[i].quiet = true
			hs[i].connect([2]Role{Controlling, Controlled})
			hs[i].runFor(3 * time.Second)
			hs[i].mustConnect()
			// Idle, so that application traffic wakes the liveness
			// checks: a probe is due at once, which the timers compare.
			hs[i].runFor(2 * time.Minute)
		}
		local, remote := hs[0].addrs[1], hs[0].addrs[0]
		if from.IsValid() {
			remote = from
		}
		var got [2][][]byte
		var ids [2][]ConnID
		keep := func(i int) func(ConnID, []byte) {
			return func(id ConnID, p []byte) {
				ids[i] = append(ids[i], id)
				got[i] = append(got[i], append([]byte(nil), p...))
			}
		}
		n := hs[0].nodes[1].HandleSegments(hs[0].now, local, remote, msg, seg, keep(0))
		count := 0
		for b := msg; len(b) > 0; count++ {
			k := min(seg, len(b))
			if id, p, ok := hs[1].nodes[1].HandleDatagram(hs[1].now, local, remote, b[:k]); ok {
				keep(1)(id, p)
			}
			b = b[k:]
		}
		if n != count || n != 8 {
			t.Fatalf("from %v: HandleSegments counted %d datagrams; one by one %d, want 8", remote, n, count)
		}
		if !reflect.DeepEqual(got[0], got[1]) || !reflect.DeepEqual(ids[0], ids[1]) {
			t.Fatalf("from %v: delivered %d payloads %x; one by one %d %x", remote, len(got[0]), got[0], len(got[1]), got[1])
		}
		if want := 7; !from.IsValid() && len(got[0]) != want {
			t.Fatalf("delivered %d payloads; want %d", len(got[0]), want)
		}
		if a, b := hs[0].nodes[1].Stats(), hs[1].nodes[1].Stats(); !reflect.DeepEqual(a, b) {
			t.Fatalf("from %v: node stats %+v; one by one %+v", remote, a, b)
		}
		a, _ := hs[0].nodes[1].ConnStats(connID)
		b, _ := hs[1].nodes[1].ConnStats(connID)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("from %v: conn stats %+v; one by one %+v", remote, a, b)
		}
		at0, why0, ok0 := hs[0].nodes[1].PollTimeout()
		at1, why1, ok1 := hs[1].nodes[1].PollTimeout()
		if !at0.Equal(at1) || why0 != why1 || ok0 != ok1 {
			t.Fatalf("from %v: next timer %v %s; one by one %v %s", remote, at0, why0, at1, why1)
		}
		hs[0].drain()
		hs[1].drain()
		if !reflect.DeepEqual(hs[0].sent, hs[1].sent) {
			t.Fatalf("from %v: transmits %v; one by one %v", remote, hs[0].sent, hs[1].sent)
		}
	}
}

// TestHandleSegmentsCountsOneDatagramWithoutASegmentSize: seg 0 is one
// datagram, as a message without GRO is.
func TestHandleSegmentsCountsOneDatagramWithoutASegmentSize(t *testing.T) {
	h := newPairHarness(t, 46, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	var got [][]byte
	n := h.nodes[1].HandleSegments(h.now, h.addrs[1], h.addrs[0], []byte{0x80, 1, 2, 3}, 0, func(_ ConnID, p []byte) { got = append(got, p) })
	if n != 1 || len(got) != 1 || len(got[0]) != 4 {
		t.Fatalf("HandleSegments with seg 0 = %d, delivered %d", n, len(got))
	}
}

// A deliver that closes the connection gets nothing more of the message:
// the rest of its datagrams are dropped as from an unknown path, as
// HandleDatagram would drop each, and the closed connection is not
// touched again.
func TestHandleSegmentsStopsDeliveringToAConnectionDeliverCloses(t *testing.T) {
	const seg = 100
	h := newPairHarness(t, 45, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	n := h.nodes[1]
	msg := bytes.Repeat([]byte{0x90}, 4*seg)
	before := n.Stats()
	delivered := 0
	count := n.HandleSegments(h.now, h.addrs[1], h.addrs[0], msg, seg, func(id ConnID, _ []byte) {
		delivered++
		if err := n.Close(h.now, id); err != nil {
			t.Fatalf("deliver's Close: %v", err)
		}
	})
	if count != 4 || delivered != 1 {
		t.Fatalf("HandleSegments = %d with %d delivered; want 4 with 1 (the connection closed at the first)", count, delivered)
	}
	if got := n.Stats().Drops(DropUnknownPath) - before.Drops(DropUnknownPath); got != 3 {
		t.Fatalf("%d datagrams dropped as from an unknown path; want the 3 after the Close", got)
	}
}
