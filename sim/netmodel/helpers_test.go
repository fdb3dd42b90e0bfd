package netmodel

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

var (
	addrA = netip.MustParseAddr("198.51.100.1")
	addrB = netip.MustParseAddr("203.0.113.2")

	addrPortB = netip.AddrPortFrom(addrB, 2000)
)

// arrival is one datagram as the receiving test app saw it.
type arrival struct {
	seq   uint64
	at    time.Time
	delay time.Duration
	src   netip.AddrPort
}

// sink drains a socket on every Readable and records what arrived. Payloads
// start with an 8-byte sequence number.
type sink struct {
	got []arrival
}

func (k *sink) attach(s *Socket) {
	s.SetNotify(func(now time.Time, ev SocketEvent) {
		if ev != Readable {
			return
		}
		for p, ok := s.ReadFrom(); ok; p, ok = s.ReadFrom() {
			k.got = append(k.got, arrival{
				seq: binary.BigEndian.Uint64(p.Payload), at: now, delay: now.Sub(p.SentAt), src: p.Src,
			})
		}
	})
}

func payload(seq uint64, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, seq)
	return b
}

// pair is two public hosts with one socket each.
type pair struct {
	w      *world.World
	n      *Network
	a, b   *Host
	sa, sb *Socket
	recv   sink
}

func newPair(t *testing.T, seed uint64, up LinkConfig) *pair {
	t.Helper()
	w := world.New(world.Config{Seed: seed})
	n := New(w)
	a, err := n.AddHost("a", addrA, HostConfig{Up: up})
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b", addrB, HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := a.Bind(1000, SocketConfig{})
	sb, _ := b.Bind(2000, SocketConfig{})
	p := &pair{w: w, n: n, a: a, b: b, sa: sa, sb: sb}
	p.recv.attach(sb)
	return p
}

// sendEvery makes a send count datagrams of size bytes, one per interval.
func (p *pair) sendEvery(t *testing.T, count int, interval time.Duration, size int) {
	t.Helper()
	for i := 0; i < count; i++ {
		seq := uint64(i)
		p.w.After(time.Duration(i)*interval, "app/send", func(time.Time) {
			if err := p.sa.WriteTo(payload(seq, size), p.sb.LocalAddr()); err != nil {
				t.Errorf("send %d: %v", seq, err)
			}
		})
	}
}

func within(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %.4f, want within [%.4f, %.4f]", what, got, lo, hi)
	}
}

func addrPortOfB(port uint16) netip.AddrPort { return netip.AddrPortFrom(addrB, port) }
