package wgbind

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"github.com/peerlink/peerlink/state/node"
)

var (
	tunA = netip.MustParseAddr("10.99.0.1")
	tunB = netip.MustParseAddr("10.99.0.2")
)

// loopbackPair is two sides on 127.0.0.1, connected over their host
// candidates, each with a wireguard-go device on a channel TUN.
type loopbackPair struct {
	a, b   *side
	ta, tb *tuntest.ChannelTUN
	sig    *signalling
}

func newLoopbackPair(t *testing.T, ctx context.Context, cfg Config) *loopbackPair {
	t.Helper()
	p := &loopbackPair{}
	p.a = newSide(t, ctx, "a", listenLoopback(t), cfg)
	p.b = newSide(t, ctx, "b", listenLoopback(t), cfg)
	p.sig = connect(t, ctx, p.a, p.b, hostOnly)
	await(t, p.sig.others[0], 10*time.Second, "a connected", isConnected)
	await(t, p.sig.others[1], 10*time.Second, "b connected", isConnected)
	p.ta, p.tb = tuntest.NewChannelTUN(), tuntest.NewChannelTUN()
	p.a.startDevice(t, p.ta.TUN(), p.b, tunB.String()+"/32")
	p.b.startDevice(t, p.tb.TUN(), p.a, tunA.String()+"/32")
	return p
}

func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

// ping sends an ICMP echo from a's TUN and waits for it on b's.
func (p *loopbackPair) ping(t *testing.T, what string) {
	t.Helper()
	msg := tuntest.Ping(tunB, tunA)
	deadline := time.After(10 * time.Second)
	// The first pings may wait for the handshake; resend until one lands.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	p.ta.Outbound <- msg
	for {
		select {
		case got := <-p.tb.Inbound:
			if bytes.Equal(got, msg) {
				return
			}
		case <-tick.C:
			select {
			case p.ta.Outbound <- msg:
			default:
			}
		case <-deadline:
			t.Fatalf("%s: no packet crossed the tunnel within 10 s", what)
		}
	}
}

func TestAPacketCrossesWireGuardOverPeerlink(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newLoopbackPair(t, ctx, Config{})
	p.ping(t, "first packet")
}

// wireguard-go closes and reopens its Bind on BindUpdate and on every
// down and up; the connection must carry on without a new Connect, and
// the tunnel with it.
func TestBindUpdateAndDeviceDownUpKeepTheConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newLoopbackPair(t, ctx, Config{})
	p.ping(t, "before")
	before, err := p.a.d.ConnStats(ctx, tunnelConn)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.a.dev.BindUpdate(); err != nil {
		t.Fatal(err)
	}
	p.ping(t, "after BindUpdate")
	for _, s := range []*loopbackPair{p} {
		if err := s.a.dev.Down(); err != nil {
			t.Fatal(err)
		}
		if err := s.a.dev.Up(); err != nil {
			t.Fatal(err)
		}
	}
	p.ping(t, "after down and up")
	after, err := p.a.d.ConnStats(ctx, tunnelConn)
	if err != nil {
		t.Fatal(err)
	}
	// A restarted connection would start its counters from zero.
	if !after.Connected || after.DatagramsSent <= before.DatagramsSent || after.ICE.ChecksSent < before.ICE.ChecksSent {
		t.Fatalf("the connection did not carry on: before %+v, after %+v", before, after)
	}
	if s := p.a.bind.Stats(); s.Delivered == 0 {
		t.Fatalf("bind stats: %+v", s)
	}
}

// Close must unblock a parked ReceiveFunc with net.ErrClosed, and a
// ReceiveFunc from before a Close keeps returning it after a new Open.
func TestCloseUnblocksEveryReceiveFuncWithErrClosed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSide(t, ctx, "a", listenLoopback(t), Config{})
	b := s.bind
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Open(0); !errors.Is(err, conn.ErrBindAlreadyOpen) {
		t.Fatalf("second Open: %v, want ErrBindAlreadyOpen", err)
	}
	bufs, sizes, eps := make([][]byte, b.BatchSize()), make([]int, b.BatchSize()), make([]conn.Endpoint, b.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := fns[0](bufs, sizes, eps)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it park; the test holds either way
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("parked ReceiveFunc returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock the ReceiveFunc")
	}
	if _, _, err := b.Open(0); err != nil {
		t.Fatal(err)
	}
	if _, err := fns[0](bufs, sizes, eps); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("old ReceiveFunc after reopen returned %v, want net.ErrClosed", err)
	}
	if err := b.Send([][]byte{{1}}, b.Endpoint(9)); err == nil {
		t.Fatal("Send to a connection that does not exist succeeded")
	}
	b.Close()
	if err := b.Send([][]byte{{1}}, b.Endpoint(9)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send on a closed Bind: %v, want net.ErrClosed", err)
	}
}

func TestSendRefusesUnknownConnectionsForeignEndpointsAndOversizedPayloads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newSide(t, ctx, "a", listenLoopback(t), Config{})
	b := newSide(t, ctx, "b", listenLoopback(t), Config{})
	sig := connect(t, ctx, a, b, hostOnly)
	await(t, sig.others[0], 10*time.Second, "a connected", isConnected)
	if _, _, err := a.bind.Open(0); err != nil {
		t.Fatal(err)
	}
	defer a.bind.Close()

	if err := a.bind.Send([][]byte{{1}}, a.bind.Endpoint(42)); !errors.Is(err, node.ErrUnknownConn) {
		t.Fatalf("send to an unknown connection: %v, want node.ErrUnknownConn", err)
	}
	if err := a.bind.Send([][]byte{{1}}, &foreignEndpoint{}); !errors.Is(err, conn.ErrWrongEndpointType) {
		t.Fatalf("send to a foreign endpoint: %v, want conn.ErrWrongEndpointType", err)
	}
	max, err := a.d.MaxPayload(ctx, tunnelConn)
	if err != nil {
		t.Fatal(err)
	}
	ok := make([]byte, max)
	ok[0] = 4 // a WireGuard transport message's type, not STUN
	tooBig := make([]byte, max+1)
	tooBig[0] = 4
	err = a.bind.Send([][]byte{ok, tooBig}, a.bind.Endpoint(tunnelConn))
	if !errors.Is(err, node.ErrPayloadTooLarge) {
		t.Fatalf("send of %d bytes on a path carrying %d: %v, want node.ErrPayloadTooLarge", max+1, max, err)
	}
	st, err := a.d.ConnStats(ctx, tunnelConn)
	if err != nil {
		t.Fatal(err)
	}
	if st.DatagramsSent != 1 {
		t.Fatalf("the payload before the refused one should have left: %d sent", st.DatagramsSent)
	}
}

type foreignEndpoint struct{ conn.StdNetEndpoint }

func TestEndpointsAreStablePerConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSide(t, ctx, "a", listenLoopback(t), Config{})
	e7 := s.bind.Endpoint(7)
	got, err := s.bind.ParseEndpoint(e7.DstToString())
	if err != nil {
		t.Fatal(err)
	}
	if got != conn.Endpoint(e7) || !bytes.Equal(got.DstToBytes(), e7.DstToBytes()) || got.DstIP() != e7.DstIP() {
		t.Fatalf("ParseEndpoint(%q) = %v, want the same endpoint", e7.DstToString(), got)
	}
	e8 := s.bind.Endpoint(8)
	if bytes.Equal(e7.DstToBytes(), e8.DstToBytes()) || e7.DstIP() == e8.DstIP() {
		t.Fatal("two connections share cookie bytes or a rate-limiter address")
	}
	// Forget lets the endpoint go; the next one for the ID is new but
	// equal, so a program that reuses an ID keeps its cookie bytes.
	s.bind.Forget(7)
	if again := s.bind.Endpoint(7); again == e7 || !bytes.Equal(again.DstToBytes(), e7.DstToBytes()) {
		t.Fatal("Forget kept the endpoint, or the new one differs")
	}
	for _, bad := range []string{"127.0.0.1:51820", "peerlink:", "peerlink:-1", "peerlink:x"} {
		if _, err := s.bind.ParseEndpoint(bad); err == nil {
			t.Errorf("ParseEndpoint(%q) succeeded", bad)
		}
	}
}
