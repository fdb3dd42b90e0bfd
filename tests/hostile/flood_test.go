package hostile

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

var (
	epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	local = netip.MustParseAddrPort("192.0.2.1:4000")
)

// connecting is a Node with conns connections whose peers never answer:
// every table a flood could grow is live (ufrags, transaction tags,
// checks in flight).
func connecting(t testing.TB, conns int) *node.Node {
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.AddLocalAddress(epoch, local); err != nil {
		t.Fatal(err)
	}
	peer := node.Credentials{Ufrag: "peerpeer", Pwd: "pppppppppppppppppppppppp"}
	for i := range conns {
		if _, err := n.Connect(epoch, node.ConnID(i), node.Controlling, node.Credentials{}, peer); err != nil {
			t.Fatal(err)
		}
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 5000)
		cand := stunmsg.NewCandidate(stunmsg.Host, addr, addr, netip.AddrPort{}, 65535)
		if err := n.AddRemoteCandidate(epoch, node.ConnID(i), cand); err != nil {
			t.Fatal(err)
		}
	}
	drain(n)
	return n
}

func drain(n *node.Node) (transmits, bytes int) {
	for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
		transmits++
		bytes += len(tx.Payload)
	}
	for _, ok := n.PollEvent(); ok; _, ok = n.PollEvent() {
	}
	return transmits, bytes
}

// garbage fills b with one hostile datagram: random bytes, a Binding
// request for a random ufrag, a Binding response with a random transaction
// ID, or ChannelData.
func garbage(rng *rand.Rand, b []byte) []byte {
	switch rng.IntN(4) {
	case 0:
		b = b[:1+rng.IntN(len(b)-1)]
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	case 1:
		var u [8]byte
		binary.BigEndian.PutUint64(u[:], rng.Uint64())
		return stunmsg.BindingRequest{Username: string(hexish(u[:4])) + ":" + string(hexish(u[4:])), Priority: 1}.Marshal("pppppppppppppppppppppppp")
	case 2:
		var id stunmsg.TxID
		binary.BigEndian.PutUint64(id[:8], rng.Uint64())
		binary.BigEndian.PutUint32(id[8:], rng.Uint32())
		return stunmsg.SuccessResponse(id, local, "pppppppppppppppppppppppp")
	}
	b = b[:4+rng.IntN(200)]
	binary.BigEndian.PutUint16(b, 0x4000+uint16(rng.IntN(0x1000)))
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-4))
	return b
}

func hexish(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// floodHeapBound is what a million hostile datagrams may add to the heap
// of a Node holding 100 connections: nothing they carry may stay, so the
// bound only allows for the Node's own reused buffers settling.
const floodHeapBound = 1 << 20

func TestAMillionDatagramsFromAMillionSourcesLeaveMemoryBoundedAndGetNoAnswer(t *testing.T) {
	datagrams := 1_000_000
	if testing.Short() {
		datagrams = 50_000
	}
	n := connecting(t, 100)
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 1500)
	now := epoch
	// Warm up, so that buffers the Node reuses count in the baseline.
	for range 1000 {
		n.HandleDatagram(now, local, netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, 1}), 1), garbage(rng, buf))
	}
	drain(n)
	before := heapInUse()
	start := time.Now()
	answered, answerBytes := 0, 0
	for i := range datagrams {
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], rng.Uint32())
		src := netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(rng.Uint32()))
		n.HandleDatagram(now, local, src, garbage(rng, buf))
		if i%1000 == 999 {
			// 100 s of virtual time over the flood: the connections' timers
			// run (and fail them with ChecksFailed) meanwhile.
			now = now.Add(100 * time.Millisecond)
			n.HandleTimeout(now)
		}
		for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
			if tx.Dst == src {
				answered++
				answerBytes += len(tx.Payload)
			}
		}
		for _, ok := n.PollEvent(); ok; _, ok = n.PollEvent() {
		}
	}
	elapsed := time.Since(start)
	after := heapInUse()
	runtime.KeepAlive(n)
	growth := int64(after) - int64(before)
	t.Logf("%d datagrams in %v (%.0f ns each); heap %d -> %d bytes (%+d)", datagrams, elapsed,
		float64(elapsed.Nanoseconds())/float64(datagrams), before, after, growth)
	if growth > floodHeapBound {
		t.Fatalf("heap grew by %d bytes over the flood, bound %d", growth, floodHeapBound)
	}
	if answered != 0 {
		t.Fatalf("%d answers (%d bytes) to unauthenticated datagrams", answered, answerBytes)
	}
	st := n.Stats()
	var dropped uint64
	for _, d := range st.Dropped {
		dropped += d
	}
	if dropped < uint64(datagrams) {
		t.Fatalf("%d drops counted for %d datagrams", dropped, datagrams)
	}
}
