package streamrelay_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// quickRelay notices a dead relay within seconds: a keepalive every 2 s,
// a request given up after 0.1+0.2+0.4+0.4+0.4 s.
var quickRelay = turn.Config{
	KeepaliveInterval: 2 * time.Second,
	RequestRTO:        100 * time.Millisecond,
	RequestRTOMax:     400 * time.Millisecond,
	RequestTransmits:  5,
}

// world is coturn in the internet namespace and two peers whose UDP to it
// is blocked.
type world struct {
	tp   *topo
	srv  *realturn.StreamServer
	a, b *peer
}

func newWorld(t *testing.T, ctx context.Context, timers turn.Config) *world {
	return newWorldBlocking(t, ctx, timers, true)
}

// newWorldBlocking blocks UDP for a, and for b too when blockB.
func newWorldBlocking(t *testing.T, ctx context.Context, timers turn.Config, blockB bool) *world {
	t.Helper()
	tp := newTopo(t)
	w := &world{tp: tp, srv: realturn.CoturnStreams(t, realturn.StreamConfig{Netns: tp.inet, IP: serverIP})}
	tp.blockUDP(t, 0)
	if blockB {
		tp.blockUDP(t, 1)
	}
	w.a = startPeer(t, ctx, "a", tp.peers[0], timers)
	w.b = startPeer(t, ctx, "b", tp.peers[1], timers)
	return w
}

// url is the TURN URL of the world's server over transport.
func (w *world) url(transport node.Transport) string {
	switch transport {
	case node.TCP:
		return fmt.Sprintf("turn:%s?transport=tcp", w.srv.TCP)
	case node.TLS:
		return fmt.Sprintf("turns:%s", w.srv.TLS)
	}
	return fmt.Sprintf("turn:%s", w.srv.UDP)
}

func (w *world) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(w.srv.Cert)
	return p
}

func TestAConnectionComesUpThroughACoturnRelayOverTCPWhereUDPIsBlocked(t *testing.T) {
	connectsOver(t, node.TCP)
}

func TestAConnectionComesUpThroughACoturnRelayOverTLSWhereUDPIsBlocked(t *testing.T) {
	connectsOver(t, node.TLS)
}

// connectsOver adds the relay over transport to both peers, connects them
// and carries 100 datagrams, and logs how long the relay and the
// connection took from AddRelay: a cold start, the stream's dial and
// handshake included.
func connectsOver(t *testing.T, transport node.Transport) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t, ctx, quickRelay)
	start := time.Now()
	for _, p := range []*peer{w.a, w.b} {
		if err := p.addRelay(ctx, w.url(transport), w.roots(), nil); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, ctx, w.a, w.b)
	var took [2]time.Duration
	for i, p := range []*peer{w.a, w.b} {
		p.await(t, 10*time.Second, "connected", func(e node.Event) bool { _, ok := e.(node.Connected); return ok })
		took[i] = time.Since(start)
	}
	go stream(ctx, w.a, 2*time.Millisecond)
	if !w.b.waitGot(100, 5*time.Second) {
		t.Fatalf("%v: b received %d of 100 datagrams", transport, w.b.got.Load())
	}
	st, err := w.a.d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("relay-connect transport=%v a=%v b=%v udp-dropped(a)=%s streams(a)=%+v", transport,
		took[0].Round(time.Millisecond), took[1].Round(time.Millisecond), w.tp.udpDropped(t, 0), st.Streams)
	if st.Streams.Dials == 0 || st.Streams.MessagesIn == 0 {
		t.Fatalf("%v: the relay's traffic did not use a stream: %+v", transport, st.Streams)
	}
}

func TestAUDPRelayGetsNoAllocationWhereUDPIsBlocked(t *testing.T) {
	// The control for the two above: the block is real, so only a relay
	// over a stream can connect these peers.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t, ctx, quickRelay)
	if err := w.a.addRelay(ctx, w.url(node.UDP), nil, nil); err != nil {
		t.Fatal(err)
	}
	go w.a.route(ctx, t, w.b)
	e := w.a.await(t, 15*time.Second, "relay-lost", func(e node.Event) bool { _, ok := e.(node.RelayFailed); return ok })
	t.Logf("over UDP: %v; udp-dropped(a)=%s", e, w.tp.udpDropped(t, 0))
}

func TestATLSRelayWhoseKeyMatchesNoPinIsNeverUsed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t, ctx, quickRelay)
	good := drivers.SPKIHash(w.srv.Cert)
	bad := append([]byte(nil), good...)
	bad[0] ^= 1
	if err := w.a.addRelay(ctx, w.url(node.TLS), nil, [][]byte{bad}); err != nil {
		t.Fatal(err)
	}
	if err := w.b.addRelay(ctx, w.url(node.TLS), nil, [][]byte{good}); err != nil {
		t.Fatal(err)
	}
	go w.a.route(ctx, t, w.b)
	go w.b.route(ctx, t, w.a)
	// The pinned peer allocates with the self-signed certificate and no
	// roots; the other's handshake fails every time.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rs, err := w.b.d.RelayStats(ctx, w.srv.TLS)
		if err == nil && rs.State == turn.StateAllocated {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("b, pinned to the right key: relay %v after 10 s (%v)", rs.State, err)
		}
	}
	w.a.await(t, 15*time.Second, "relay-lost", func(e node.Event) bool { _, ok := e.(node.RelayFailed); return ok })
	st, err := w.a.d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Streams.Dials != 0 || st.Streams.DialFailures == 0 {
		t.Fatalf("wrong pin: %+v", st.Streams)
	}
}

func TestAConnectionThroughACoturnRelayOverTCPSurvivesTheRelaysRestart(t *testing.T) {
	survivesRestart(t, node.TCP, bHost)
}

func TestAConnectionThroughACoturnRelayOverTLSSurvivesTheRelaysRestart(t *testing.T) {
	survivesRestart(t, node.TLS, bHost)
}

func TestAConnectionFromACoturnRelayOverTCPToOneOverUDPSurvivesTheRelaysRestart(t *testing.T) {
	survivesRestart(t, node.TCP, bRelayUDP)
}

func TestAConnectionBetweenTwoCoturnRelaysOverTCPSurvivesTheRelaysRestart(t *testing.T) {
	survivesRestart(t, node.TCP, bBlocked)
}

// How b reaches a's relay in survivesRestart.
type bLayout string

const (
	// bHost: b's UDP is open, it relays over UDP and signals its host
	// candidate, so its path runs from its host address to a's relayed one.
	bHost bLayout = "host"
	// bRelayUDP: as bHost, but b signals only its relay candidate: the
	// path runs between the two relayed addresses.
	bRelayUDP bLayout = "relay-udp"
	// bBlocked: b's UDP is blocked too and it relays over a's transport.
	bBlocked bLayout = "relay-blocked"
)

// survivesRestart connects a, whose UDP is blocked, through its relay over
// transport to b on an open network (b reaches a's relayed address from
// its host address), with the TURN client's default timers; streams a
// datagram every 20 ms from a to b, and restarts coturn: a's stream breaks
// and its allocation is gone. The connection must move to a new
// allocation on a new stream and carry data again within half the probe
// timeout, never fail. layout says how b takes part; in the relay
// layouts the path runs between the two relayed addresses and both
// allocations go in the restart.
func survivesRestart(t *testing.T, transport node.Transport, layout bLayout) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorldBlocking(t, ctx, turn.Config{}, layout == bBlocked)
	w.b.signalHost = layout == bHost
	if err := w.a.addRelay(ctx, w.url(transport), w.roots(), nil); err != nil {
		t.Fatal(err)
	}
	// b has the same server as a relay (a Node without a relay gives up
	// a lost path at once), over UDP unless its UDP is blocked.
	bTransport := node.UDP
	if layout == bBlocked {
		bTransport = transport
	}
	if err := w.b.addRelay(ctx, w.url(bTransport), w.roots(), nil); err != nil {
		t.Fatal(err)
	}
	connect(t, ctx, w.a, w.b)
	for _, p := range []*peer{w.a, w.b} {
		p.await(t, 10*time.Second, "connected", func(e node.Event) bool { _, ok := e.(node.Connected); return ok })
	}
	go stream(ctx, w.a, 20*time.Millisecond)
	if !w.b.waitGot(25, 5*time.Second) {
		t.Fatal("no data before the restart")
	}
	for _, p := range []*peer{w.a, w.b} {
		for drained := false; !drained; {
			select {
			case <-p.events:
			default:
				drained = true
			}
		}
	}
	w.srv.Restart()
	restarted := time.Now()
	before := w.b.got.Load()
	timeout := ice.DefaultConfig().ProbeTimeout
	var resumed time.Duration
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if w.b.got.Load() >= before+25 {
			resumed = time.Since(restarted)
			break
		}
	}
	if resumed == 0 {
		for _, p := range []*peer{w.a, w.b} {
			st, _ := p.d.Stats(ctx)
			rs, _ := p.d.RelayStats(ctx, w.srvAddr(transport))
			t.Logf("%s: streams %+v relay %v %+v", p.name, st.Streams, rs.State, rs.Client)
			for drained := false; !drained; {
				select {
				case e := <-p.events:
					t.Logf("%s: %v", p.name, e)
				default:
					drained = true
				}
			}
		}
		t.Fatalf("%v: data did not flow again within %v of the restart", transport, timeout)
	}
	st, _ := w.a.d.Stats(ctx)
	rs, _ := w.a.d.RelayStats(ctx, w.srvAddr(transport))
	t.Logf("relay-restart transport=%v b=%s gap=%v reallocations(a)=%d streams(a)=%+v", transport, layout,
		resumed.Round(time.Millisecond), rs.Client.Reallocations, st.Streams)
	if resumed > timeout/2 {
		t.Errorf("%v: data flowed again only %v after the restart, want within %v", transport, resumed, timeout/2)
	}
	for _, p := range []*peer{w.a, w.b} {
		select {
		case e := <-p.events:
			if f, ok := e.(node.Failed); ok {
				t.Errorf("%s: %v", p.name, f)
			}
		default:
		}
	}
}

func (w *world) srvAddr(transport node.Transport) (a netip.AddrPort) {
	if transport == node.TLS {
		return w.srv.TLS
	}
	return w.srv.TCP
}
