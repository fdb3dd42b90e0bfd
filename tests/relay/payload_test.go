package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// Over real sockets, the payload property: every first byte 0-255, with
// lengths up to the connection's MaxPayload, arrives byte for byte, on a
// direct loopback path and through pion/turn and coturn. Only STUN with
// the magic cookie and a whole header is peerlink's (stunmsg.IsSTUN); no
// case is one. Through a relay, one byte over MaxPayload is refused by
// the driver's Send with node.ErrPayloadTooLarge instead of vanishing at
// the server.

func TestEveryFirstByteAndLengthCrossesADirectLoopbackPath(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeer(t, ctx, "a"), startPeer(t, ctx, "b")
	credA, credB := ice.NewCredentials(seeded(1)), ice.NewCredentials(seeded(2))
	if _, err := a.d.Connect(ctx, conn, node.Controlling, credA, credB); err != nil {
		t.Fatal(err)
	}
	if _, err := b.d.Connect(ctx, conn, node.Controlled, credB, credA); err != nil {
		t.Fatal(err)
	}
	go routeAll(ctx, t, a, b) // after both Connects: see connectRelayed
	go routeAll(ctx, t, b, a)
	for _, p := range []*peer{a, b} {
		p.await(t, 10*time.Second, "connected", func(e node.Event) bool { _, ok := e.(node.Connected); return ok })
	}
	exchangeEveryByte(t, ctx, a, b, gso.MaxBytesIPv4)
}

func TestEveryFirstByteAndLengthCrossesPionTurnAndOneMoreIsRefused(t *testing.T) {
	t.Parallel()
	everyByteThroughRelay(t, realturn.Pion(t, realturn.PionConfig{}))
}

func TestEveryFirstByteAndLengthCrossesCoturnAndOneMoreIsRefused(t *testing.T) {
	t.Parallel()
	everyByteThroughRelay(t, realturn.Coturn(t, realturn.CoturnConfig{}))
}

func everyByteThroughRelay(t *testing.T, srv *realturn.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeer(t, ctx, "a"), startPeer(t, ctx, "b")
	connectRelayed(t, ctx, srv, a, b)
	exchangeEveryByte(t, ctx, a, b, turn.DefaultMaxPayload)
	err := a.d.Send(ctx, conn, make([]byte, turn.DefaultMaxPayload+1))
	if !errors.Is(err, node.ErrPayloadTooLarge) {
		t.Fatalf("%s: Send one byte over MaxPayload: %v; want node.ErrPayloadTooLarge", srv.Name, err)
	}
}

// routeAll is the application's signalling with every candidate, so that
// the peers find their direct path.
func routeAll(ctx context.Context, t *testing.T, p, other *peer) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.raw:
			if g, ok := e.(node.CandidateGathered); ok {
				signal(ctx, t, other, g.Candidate)
			}
			p.events <- e
		}
	}
}

// exchangeEveryByte checks MaxPayload on both sides, then sends every case
// each way in batches, waiting for each batch; loopback keeps no order
// promise across a GSO batch, so a batch is compared as a set.
func exchangeEveryByte(t *testing.T, ctx context.Context, a, b *peer, wantMax int) {
	t.Helper()
	for i, pr := range [][2]*peer{{a, b}, {b, a}} {
		from, to := pr[0], pr[1]
		m, err := from.d.MaxPayload(ctx, conn)
		if err != nil || m != wantMax {
			t.Fatalf("%s: MaxPayload %d, %v; want %d", from.name, m, err, wantMax)
		}
		sink := make(chan []byte, 64)
		to.sink.Store(&sink)
		all := everyByteCases(m, uint64(i))
		for start := 0; start < len(all); start += 8 {
			batch := all[start:min(start+8, len(all))]
			for _, p := range batch {
				for {
					err := from.d.Send(ctx, conn, p)
					if !errors.Is(err, gso.ErrQueueFull) {
						if err != nil {
							t.Fatalf("%s: Send of %d bytes starting %d: %v", from.name, len(p), p[0], err)
						}
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			want := map[string]int{}
			for _, p := range batch {
				want[string(p)]++
			}
			timeout := time.After(5 * time.Second)
			for n := 0; n < len(batch); n++ {
				select {
				case got := <-sink:
					if want[string(got)] == 0 {
						t.Fatalf("%s: a payload of %d bytes starting %d that was not sent in this batch", to.name, len(got), got[0])
					}
					want[string(got)]--
				case <-timeout:
					for _, p := range batch {
						if want[string(p)] > 0 {
							t.Fatalf("%s: payload %d of %d bytes starting %d never arrived", to.name, start, len(p), p[0])
						}
					}
				}
			}
		}
		to.sink.Store(nil)
	}
}

// everyByteCases: every first byte with the lengths around ChannelData's
// and STUN's headers, the maximum and one below, and one drawn length;
// 64-79 carry a well-formed ChannelData length field, 0-3 never the cookie
// with a whole header.
func everyByteCases(max int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out [][]byte
	for first := range 256 {
		for _, n := range []int{1, 4, 5, 20, 21, max - 1, max, 1 + rng.IntN(max)} {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] = byte(first)
			if first >= 64 && first <= 79 && n >= 4 {
				binary.BigEndian.PutUint16(b[2:4], uint16(n-4))
			}
			if stunmsg.IsSTUN(b) {
				b[4] ^= 0xFF
			}
			out = append(out, b)
		}
	}
	return out
}
