package turn_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// The largest payload a real relay carries, measured in each direction and
// framing through one allocation: our client toward a plain UDP peer as a
// Send indication and then as ChannelData, and the peer toward our relayed
// address, which the server wraps as a Data indication and then (once the
// channel is bound) as ChannelData. turn.DefaultMaxPayload must fit every
// figure; the test logs them (go test -v -run MaxPayload ./turn/).

func TestPionCarriesTheDefaultMaxPayloadEveryWay(t *testing.T) {
	measureMaxPayload(t, realturn.Pion(t, realturn.PionConfig{}))
}

func TestCoturnCarriesTheDefaultMaxPayloadEveryWay(t *testing.T) {
	measureMaxPayload(t, realturn.Coturn(t, realturn.CoturnConfig{}))
}

// probeWait is how long a probe may take on loopback before it counts as
// not carried; each size is tried twice, so a rare loss does not lower the
// figure.
const probeWait = 100 * time.Millisecond

func measureMaxPayload(t *testing.T, srv *realturn.Server) {
	cfg := testConfig(srv.Addr, realturn.User, realturn.Password)
	cfg.cfg.MaxPayload = turn.MaxMaxPayload // measure beyond our own limit
	r := startRunner(t, cfg)
	relayed := r.waitEvent(turn.EventAllocated, 5*time.Second).Relayed
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	_ = peer.SetReadBuffer(4 << 20)
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := r.do(func(c *turn.Client, now time.Time) error { return c.CreatePermission(now, peerAddr) }); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(turn.EventPermitted, 5*time.Second)

	var seq uint32
	payload := func(size int) []byte {
		seq++
		b := bytes.Repeat([]byte{0xA5}, size)
		if size >= 4 {
			binary.BigEndian.PutUint32(b, seq)
		}
		return b
	}
	toPeer := func(size int) bool {
		b := payload(size)
		if r.send(peerAddr, b) != nil {
			return false
		}
		buf := make([]byte, 1<<16)
		deadline := time.Now().Add(probeWait)
		for {
			_ = peer.SetReadDeadline(deadline)
			n, _, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				return false
			}
			if bytes.Equal(buf[:n], b) {
				return true
			}
		}
	}
	fromPeer := func(size int) bool {
		b := payload(size)
		if _, err := peer.WriteToUDPAddrPort(b, relayed); err != nil {
			return false
		}
		timeout := time.After(probeWait)
		for {
			select {
			case in := <-r.data:
				if in.peer == peerAddr && bytes.Equal(in.payload, b) {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}
	twice := func(probe func(int) bool) func(int) bool {
		return func(size int) bool { return probe(size) || probe(size) }
	}
	var figures []string
	measure := func(name string, probe func(int) bool) {
		limit := largestCarried(twice(probe))
		figures = append(figures, fmt.Sprintf("%s=%d", name, limit))
		if limit < turn.DefaultMaxPayload {
			t.Errorf("%s: %s carries at most %d bytes, below turn.DefaultMaxPayload %d",
				srv.Name, name, limit, turn.DefaultMaxPayload)
		}
	}
	measure("send-indication", toPeer)
	measure("data-indication", fromPeer)
	if err := r.do(func(c *turn.Client, now time.Time) error { return c.BindChannel(now, peerAddr) }); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(turn.EventChannelBound, 5*time.Second)
	st := r.stats()
	measure("channeldata-to-server", toPeer)
	measure("channeldata-from-server", fromPeer)
	if got := r.stats(); got.ChannelDataSent == st.ChannelDataSent || got.ChannelDataReceived == st.ChannelDataReceived {
		t.Errorf("%s: the channel was not used: stats %+v then %+v", srv.Name, st, got)
	}
	t.Logf("%s max payload: %v", srv.Name, figures)
}

// largestCarried finds the largest size from 1 to 65507 (the most an IPv4
// UDP datagram holds) that probe reports carried, assuming every smaller
// size is carried too: a ladder of common sizes first, then a binary search
// between the last carried and the first lost.
func largestCarried(probe func(int) bool) int {
	lo, hi := 0, 65508 // lo carried (0: nothing yet), hi not
	for _, s := range []int{500, 1200, 1400, 1500, 1600, 2000, 4096, 8192, 16384, 32768, 49152, 65000, 65507} {
		if !probe(s) {
			hi = s
			break
		}
		lo = s
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if probe(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
