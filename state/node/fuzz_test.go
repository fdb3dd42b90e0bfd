package node

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// connState names the states FuzzHandleDatagram puts node a's connection
// in before it gets the fuzzer's bytes.
type connState uint8

const (
	stateNone       connState = iota // no connection at all
	stateConnecting                  // checks in flight
	stateConnected                   // a direct path
	stateRelayed                     // a path through the harness relay
	stateFailed                      // CandidateTimeout
	numConnStates
)

var connStateNames = [numConnStates]string{"none", "connecting", "connected", "relayed", "failed"}

// hostileSetup builds a pair harness with node a's connection in state s,
// deterministically (fixed seeds, virtual time).
func hostileSetup(t testing.TB, s connState) *pairHarness {
	var h *pairHarness
	if s == stateRelayed {
		h = newRelayPair(t, 70)
	} else {
		h = newPairHarness(t, 70, ice.Config{})
	}
	h.quiet = true
	switch s {
	case stateNone:
	case stateConnecting:
		h.connect([2]Role{Controlling, Controlled})
		h.runFor(60 * time.Millisecond) // the first checks are out, none answered
	case stateConnected, stateRelayed:
		h.connect([2]Role{Controlling, Controlled})
		h.runFor(3 * time.Second)
		if !h.connected(0) {
			t.Fatalf("setup %s: not connected", connStateNames[s])
		}
	case stateFailed:
		if _, err := h.nodes[0].Connect(h.now, connID, Controlling, Credentials{},
			Credentials{Ufrag: "peerpeer", Pwd: "pppppppppppppppppppppppp"}); err != nil {
			t.Fatal(err)
		}
		h.drain()
		h.runFor(11 * time.Second)
		if c := h.nodes[0].conns[connID]; c.failed == 0 {
			t.Fatal("setup failed: connection did not fail")
		}
	}
	h.drain()
	// Whatever the setup left in flight is delivered no more: the fuzzer's
	// datagram is the only input.
	h.flight = nil
	return h
}

// snapshot is what a datagram nobody authenticated must not change.
type snapshot struct {
	conns     int
	path      Path
	connected bool
	failed    FailReason
	relays    int
}

func snap(n *Node) snapshot {
	s := snapshot{conns: len(n.conns), relays: len(n.relays)}
	if c, ok := n.conns[connID]; ok {
		s.path, s.connected, s.failed = c.path, c.connected, c.failed
	}
	return s
}

// fuzzSource picks the sender of the fuzzer's datagram: the peer, the
// relay's server, ourselves, or an address made of the selector's bytes.
func fuzzSource(h *pairHarness, sel uint32) netip.AddrPort {
	switch sel % 4 {
	case 0:
		return h.addrs[1]
	case 1:
		return relayAddr
	case 2:
		return h.addrs[0]
	}
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], sel)
	return netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(sel>>7))
}

// FuzzHandleDatagram gives node a, in each connection state, one datagram
// of arbitrary bytes from an arbitrary source, then lets an hour pass. It
// must never panic, keep its indexes consistent, and — since nobody can
// forge integrity — neither change the connection's state nor answer
// anyone but the relay's server (whose TURN signalling it may answer).
func FuzzHandleDatagram(f *testing.F) {
	for s := range numConnStates {
		f.Add(uint8(s), uint32(0), []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
		f.Add(uint8(s), uint32(1), []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4})
		f.Add(uint8(s), uint32(0), []byte("application bytes"))
		f.Add(uint8(s), uint32(3), stunmsg.BindingRequest{Username: "x:y", Priority: 1}.Marshal("pppppppppppppppppppppppp"))
	}
	f.Fuzz(func(t *testing.T, state uint8, sel uint32, b []byte) {
		s := connState(state % uint8(numConnStates))
		h := hostileSetup(t, s)
		n := h.nodes[0]
		before := snap(n)
		src := fuzzSource(h, sel)
		in := bytes.Clone(b)
		n.HandleDatagram(h.now, h.addrs[0], src, b)
		if !bytes.Equal(in, b) {
			t.Fatal("HandleDatagram wrote into the caller's buffer")
		}
		for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
			if src != relayAddr && tx.Dst == src {
				t.Fatalf("%s: answered an unauthenticated datagram from %v with %d bytes", connStateNames[s], src, len(tx.Payload))
			}
		}
		for e, ok := n.PollEvent(); ok; e, ok = n.PollEvent() {
			if _, gathered := e.(CandidateGathered); !gathered {
				t.Fatalf("%s: a forged datagram raised %v", connStateNames[s], e)
			}
		}
		checkInvariants(t, n)
		if after := snap(n); after != before {
			t.Fatalf("%s: state changed from %+v to %+v", connStateNames[s], before, after)
		}
		// Time goes on; the Node must stay sound whatever it was fed.
		h.runFor(time.Hour)
		checkInvariants(t, n)
	})
}
