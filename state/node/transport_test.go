package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// newStreamRelayPair is newRelayPair with both nodes reaching the relay
// over transport t.
func newStreamRelayPair(t *testing.T, seed uint64, tr Transport) *pairHarness {
	h := newPairHarness(t, seed, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = fastRelay.WithDefaults()
	}
	h.blockDirect = true
	h.withRelayOpts(WithTransport(tr))
	return h
}

func TestARelayOverTCPNamesTheStreamOnEveryTransmitToItAndPadsChannelData(t *testing.T) {
	for _, tr := range []Transport{TCP, TLS} {
		h := newStreamRelayPair(t, 21, tr)
		var toRelay, channelData, unpadded, stray int
		h.onTransmit = func(i int, tx Transmit) {
			if tx.Dst != relayAddr {
				if tx.Transport != UDP {
					stray++
				}
				return
			}
			toRelay++
			if tx.Transport != tr {
				t.Errorf("%s: %s to the relay over %v, want %v", names[i], describe(tx.Payload), tx.Transport, tr)
			}
			if stunmsg.ClassifyFromServer(tx.Payload) == stunmsg.ServerChannelData {
				channelData++
				if len(tx.Payload)%4 != 0 {
					unpadded++
				}
			}
		}
		h.connect([2]Role{Controlling, Controlled})
		h.runFor(3 * time.Second)
		h.mustConnect()
		// Each side sends; whichever's path leaves through its relay
		// wraps its payloads in ChannelData (the other may reach the
		// peer's relayed address from its host address).
		for _, size := range []int{1, 2, 3, 4, 5, 999} {
			h.send(0, 1, size)
			h.send(1, 1, size)
		}
		h.runFor(time.Second)
		if toRelay == 0 || channelData < 6 || unpadded != 0 || stray != 0 {
			t.Fatalf("%v: %d to the relay, %d ChannelData (%d unpadded), %d elsewhere not UDP", tr, toRelay, channelData, unpadded, stray)
		}
		if h.received[0] != 6 || h.received[1] != 6 {
			t.Fatalf("%v: received a=%d b=%d payloads, want 6 each", tr, h.received[0], h.received[1])
		}
	}
}

func TestAddRelayRefusesAnUnknownTransport(t *testing.T) {
	h := newPairHarness(t, 1, ice.Config{})
	err := h.nodes[0].AddRelay(h.now, relayAddr, h.addrs[0], relayUser, relayPassword, WithTransport(Transport(9)))
	if err == nil {
		t.Fatal("AddRelay took transport 9")
	}
}

func TestARelayStreamResetVerifiesTheAllocationAtOnce(t *testing.T) {
	h := newStreamRelayPair(t, 22, TCP)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	// The server lost the allocation with the old stream; the harness
	// relay forgets it too, as a restarted one would.
	h.restartRelay()
	if err := h.nodes[0].RelayStreamReset(h.now, relayAddr); err != nil {
		t.Fatal(err)
	}
	h.drain()
	rs, _ := h.nodes[0].RelayStats(relayAddr)
	if rs.Client.Verifications != 1 {
		t.Fatalf("verifications %d right after the reset, want 1", rs.Client.Verifications)
	}
	// Within a few round trips the 437 brings a fresh allocation; no
	// path went silent for it.
	h.runFor(200 * time.Millisecond)
	if rs, _ = h.nodes[0].RelayStats(relayAddr); rs.Client.Reallocations != 1 {
		t.Fatalf("reallocations %d 200 ms after the reset, want 1", rs.Client.Reallocations)
	}
	if err := h.nodes[0].RelayStreamReset(h.now, netip.MustParseAddrPort("192.0.2.1:1")); err != ErrUnknownRelay {
		t.Fatalf("reset of an unknown relay: %v", err)
	}
}

// A stream that breaks again a second after the last reset is a new loss,
// not the same silence asked about twice: the Node verifies at once,
// although turn.Config.VerifyInterval holds Verify back.
func TestASecondRelayStreamResetSoonAfterTheFirstIsNotRateLimited(t *testing.T) {
	h := newStreamRelayPair(t, 23, TCP)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	for i := range 2 {
		h.restartRelay()
		if err := h.nodes[0].RelayStreamReset(h.now, relayAddr); err != nil {
			t.Fatal(err)
		}
		h.runFor(time.Second)
		rs, _ := h.nodes[0].RelayStats(relayAddr)
		if rs.Client.Verifications != uint64(i+1) || rs.Client.Reallocations != uint64(i+1) {
			t.Fatalf("reset %d: verifications %d, reallocations %d a second later, want %d each",
				i+1, rs.Client.Verifications, rs.Client.Reallocations, i+1)
		}
	}
}
