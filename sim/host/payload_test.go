package host_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/relay"
	"github.com/peerlink/peerlink/sim/signal"
	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// The simulator's half of the payload property: every first byte 0-255
// with lengths up to the path's maximum reaches the other host byte for
// byte, over a direct world and over a world where only the relay joins
// the hosts (both behind symmetric NATs). Only STUN with the magic cookie
// and a whole header is peerlink's (stunmsg.IsSTUN); no case is one.

// payloadWorld is two hosts with a session and what each received.
type payloadWorld struct {
	w    *world.World
	side [2]*host.Host
	s    *host.Session
	got  [2][][]byte
}

func (pw *payloadWorld) listen() {
	for i, h := range pw.side {
		h.OnData(func(_ time.Time, _ node.ConnID, b []byte) {
			pw.got[i] = append(pw.got[i], append([]byte(nil), b...))
		})
	}
}

func directWorld(t *testing.T) *payloadWorld {
	pw := &payloadWorld{w: world.New(world.Config{Seed: 71})}
	n := netmodel.New(pw.w)
	link := netmodel.LinkConfig{Latency: 10 * time.Millisecond}
	for i, addr := range []string{"198.51.100.1", "203.0.113.1"} {
		nh, err := n.AddHost([]string{"a", "b"}[i], netip.MustParseAddr(addr), netmodel.HostConfig{Up: link, Down: link})
		if err != nil {
			t.Fatal(err)
		}
		if pw.side[i], err = host.New(pw.w, nh, host.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	pw.listen()
	pw.s = host.Connect(pw.w, signal.New(pw.w, signal.Config{}), pw.side[0], pw.side[1], host.SessionConfig{ID: 1})
	return pw
}

func relayedWorld(t *testing.T) *payloadWorld {
	pw := &payloadWorld{w: world.New(world.Config{Seed: 72})}
	n := netmodel.New(pw.w)
	link := netmodel.LinkConfig{Latency: 10 * time.Millisecond}
	rh, err := n.AddHost("relay", netip.MustParseAddr("192.0.2.10"), netmodel.HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(pw.w, rh, relay.Config{Server: turnserver.Config{
		Realm: "test", Users: []turnserver.Credential{{Username: "u", Password: "p"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		nat, err := n.AddNAT(name+"-nat", netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), netmodel.NATConfig{
			Mapping: netmodel.AddressAndPortDependent, Filtering: netmodel.AddressAndPortDependent,
		})
		if err != nil {
			t.Fatal(err)
		}
		nh, err := nat.AddHost(name, netip.MustParseAddr("192.168.1.2"), netmodel.HostConfig{Up: link, Down: link})
		if err != nil {
			t.Fatal(err)
		}
		if pw.side[i], err = host.New(pw.w, nh, host.Config{}); err != nil {
			t.Fatal(err)
		}
		h := pw.side[i]
		if err := h.Do(func(now time.Time, n *node.Node) error {
			return n.AddRelay(now, r.Addr(), h.LocalAddr(), "u", "p")
		}); err != nil {
			t.Fatal(err)
		}
	}
	pw.listen()
	pw.w.RunFor(time.Second) // allocations first, so the relay candidates are signalled
	pw.s = host.Connect(pw.w, signal.New(pw.w, signal.Config{}), pw.side[0], pw.side[1], host.SessionConfig{ID: 1})
	return pw
}

// cases are the payloads for a path of maximum max: every first byte, the
// lengths around ChannelData's and STUN's headers, the maximum and one
// below, and two drawn lengths. 64-79 carry a well-formed ChannelData
// length field; 0-3 never carry the cookie with a whole header.
func cases(max int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	var out [][]byte
	for first := range 256 {
		for _, n := range []int{1, 3, 4, 5, 19, 20, 21, max - 1, max, 1 + rng.IntN(max), 1 + rng.IntN(max)} {
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

func (pw *payloadWorld) deliverAll(t *testing.T, from int, want [][]byte) {
	t.Helper()
	to := 1 - from
	pw.got[to] = nil
	for start := 0; start < len(want); start += 16 {
		for _, b := range want[start:min(start+16, len(want))] {
			for {
				err := pw.side[from].Send(1, b)
				if !errors.Is(err, gso.ErrQueueFull) {
					if err != nil {
						t.Fatalf("Send of %d bytes starting %d: %v", len(b), b[0], err)
					}
					break
				}
				pw.w.RunFor(10 * time.Millisecond)
			}
		}
		pw.w.RunFor(200 * time.Millisecond)
	}
	pw.w.RunFor(time.Second)
	got := pw.got[to]
	for k, b := range want {
		if k >= len(got) || !bytes.Equal(got[k], b) {
			t.Fatalf("payload %d of %d bytes starting %d not delivered byte-exact (%d of %d arrived); node drops %v",
				k, len(b), b[0], len(got), len(want), pw.side[to].Node().Stats().Dropped)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d payloads arrived for %d sent", len(got), len(want))
	}
}

func (pw *payloadWorld) run(t *testing.T, relayed bool, wantMax int) {
	pw.w.RunFor(5 * time.Second)
	if !pw.s.Up(0) || !pw.s.Up(1) {
		t.Fatal("not connected after 5 s")
	}
	for i, h := range pw.side {
		p, _ := h.Node().Path(1)
		if through := p.Local.Type == stunmsg.Relay || p.Remote.Type == stunmsg.Relay; through != relayed {
			t.Fatalf("side %d: path %v, want relayed=%v", i, p, relayed)
		}
		m, err := h.Node().MaxPayload(1)
		if err != nil || m != wantMax {
			t.Fatalf("side %d: MaxPayload %d, %v; want %d", i, m, err, wantMax)
		}
		pw.deliverAll(t, i, cases(m, uint64(i)))
	}
}

func TestEveryFirstByteAndLengthCrossesADirectWorld(t *testing.T) {
	directWorld(t).run(t, false, gso.MaxBytesIPv4)
}

func TestEveryFirstByteAndLengthCrossesARelayedWorld(t *testing.T) {
	relayedWorld(t).run(t, true, turn.DefaultMaxPayload)
}
