package backpressure_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/portable"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/tests/internal/pair"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

const (
	conn node.ConnID = 5
	// total is how many payloads the sender sends in all: about 4 MB,
	// many times what the stream holds back (the pump's 256 KiB and the
	// writer's 64 KiB), so the stream fills and drains many times over.
	total = 4000
	// batch is how many payloads one SendBatch hands over.
	batch = 64
	// window bounds the payloads sent and not yet received once the
	// stream writes again. The relay forwards them over UDP as fast as
	// the stream brings them, and only the receiver's socket buffer
	// stands between that burst and loss on the last hop, which no
	// back-pressure of the sender's covers; the window keeps the burst
	// within the buffer, so that a lost payload is the stream's doing.
	// It is wider than the stream's bounds, so the sender may still meet
	// them after the stream opens.
	window = 1000
	// stuck is how long the test waits, after the stream opens, for the
	// rest to arrive before calling the stream stuck: far longer than the
	// transfer takes (well under a second), shorter than the Node's probe
	// interval here (quiet) and the relay's keepalive (25 s), so that
	// only the stream's own room can move what waits.
	stuck = 10 * time.Second
)

// quiet spaces the Node's probes beyond the test's length. Each probe is a
// Control transmit, which wakes the stream flush: with the default 1.5 s
// a stream whose writer's room went unheard would still move on every
// probe, only slower, and the test would pass.
var quiet = ice.Config{ProbeInterval: 30 * time.Second, ProbeLossAfter: 30 * time.Second, ProbeTimeout: 60 * time.Second}

// TestARelayStreamThatStopsTakingBytesPushesBackAndLosesNothing holds the
// sender's only path, a relay reached over TCP, shut while the sender
// sends as fast as it can: SendBatch must refuse (gso.ErrQueueFull) and
// WaitWritable must wait while the stream takes nothing; once the stream
// writes again WaitWritable returns, the sender goes on, and every payload
// SendBatch accepted arrives once, in order.
func TestARelayStreamThatStopsTakingBytesPushesBackAndLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := pionTCP(t)
	g := newGate()

	// The sender has no host address: its only candidate is the relayed
	// address, and its only way out is the TCP stream to the server. The
	// receiver signals its host address, which the server relays to.
	a := startPeer(t, ctx, "a", g.dial)
	b := startPeer(t, ctx, "b", nil)
	if err := b.d.AddLocalAddress(ctx, b.addr); err != nil {
		t.Fatal(err)
	}
	err := a.d.AddRelayConfig(ctx, drivers.Relay{URL: fmt.Sprintf("turn:%s?transport=tcp", server), Local: a.addr,
		Username: realturn.User, Password: realturn.Password})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, ctx, a, b)
	path := a.awaitConnected(t)
	b.awaitConnected(t)
	if !path.ThroughOurRelay() {
		t.Fatalf("a's path %v does not run through its relay", path)
	}
	size, err := a.d.MaxPayload(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	size = min(size, 1000)
	payloads := make([][]byte, batch)
	for i := range payloads {
		payloads[i] = make([]byte, size)
	}
	sent := 0 // payloads SendBatch accepted, numbered 0..sent-1
	// send hands over the next batch and returns SendBatch's error.
	send := func() error {
		n := min(batch, total-sent)
		for i := range n {
			fill(payloads[i], uint32(sent+i))
		}
		accepted, err := a.d.SendBatch(ctx, conn, payloads[:n])
		if accepted > n || (err == nil && accepted != n) {
			t.Fatalf("SendBatch of %d accepted %d with %v", n, accepted, err)
		}
		sent += accepted
		return err
	}

	// 1. The stream stops writing; the sender sends until refused.
	g.shut()
	shutAt := time.Now()
	for {
		err := send()
		if errors.Is(err, gso.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent == total {
			t.Fatalf("all %d payloads (%d bytes each) accepted while the stream wrote nothing: no back-pressure", total, size)
		}
	}
	acceptedShut := sent
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	err = a.d.WaitWritable(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitWritable returned %v while the stream wrote nothing", err)
	}
	if g.held.Load() == 0 {
		t.Fatal("no write of the stream waited at the gate: the stream was not what held the sender")
	}
	refusedShut := a.stats(t, ctx).Pump.StreamDataRefused
	if refusedShut == 0 {
		t.Fatal("SendBatch refused, but not for the stream")
	}

	// 2. The stream writes again: WaitWritable returns and the sender
	// goes on, waiting whenever it is refused.
	g.open()
	heldFor := time.Since(shutAt)
	openedAt := time.Now()
	deadline := openedAt.Add(stuck)
	wait, cancelWait := context.WithDeadline(ctx, deadline)
	err = a.d.WaitWritable(wait)
	cancelWait()
	if err != nil {
		t.Fatalf("WaitWritable after the stream writes again: %v", err)
	}
	waits := 0
	for sent < total {
		if !b.rx.waitFor(sent-window, deadline) {
			t.Fatalf("b received %d of the %d payloads a sent (faults: %v): the stream is stuck", b.rx.count(), sent, b.rx.errs())
		}
		err := send()
		if errors.Is(err, gso.ErrQueueFull) {
			waits++
			wait, cancelWait := context.WithDeadline(ctx, deadline)
			err = a.d.WaitWritable(wait)
			cancelWait()
			if err != nil {
				t.Fatalf("WaitWritable after %d of %d payloads: %v", sent, total, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !b.rx.waitFor(total, deadline) {
		t.Fatalf("b received %d of the %d payloads a sent (faults: %v): the stream is stuck", b.rx.count(), total, b.rx.errs())
	}
	took := time.Since(openedAt)
	if bad := b.rx.errs(); len(bad) > 0 {
		t.Fatalf("payloads out of order, lost or repeated: %v", bad)
	}
	st := a.stats(t, ctx)
	if st.Streams.MessagesOut < total || st.Pump.DatagramsSent != 0 {
		t.Fatalf("a's payloads did not all leave over the stream: %d messages written on it, %d datagrams sent over UDP",
			st.Streams.MessagesOut, st.Pump.DatagramsSent)
	}
	if st.Streams.Dials != 1 || st.Streams.Broken != 0 || st.Streams.Dropped != 0 || st.Pump.StreamDataDropped != 0 {
		t.Fatalf("the stream did not stay up without loss: %+v, stream data dropped %d", st.Streams, st.Pump.StreamDataDropped)
	}
	t.Logf("size=%d accepted-while-shut=%d (%d KiB) held=%v refused-while-shut=%d refused=%d waits-after=%d sent=%d delivered-in=%v streams=%+v",
		size, acceptedShut, acceptedShut*size>>10, heldFor.Round(time.Millisecond), refusedShut, st.Pump.StreamDataRefused,
		waits, sent, took.Round(time.Millisecond), st.Streams)
}

// fill numbers payload i and fills the rest from i, so that the receiver
// sees a payload that was cut or mixed up.
func fill(p []byte, i uint32) {
	binary.BigEndian.PutUint32(p, i)
	for j := 4; j < len(p); j++ {
		p[j] = byte(i) + byte(j)
	}
}

// received checks that payloads arrive numbered 0, 1, 2... with the
// contents fill gave them.
type received struct {
	mu   sync.Mutex
	n    int    // payloads received
	next uint32 // the number the next one should have
	bad  []string
}

func (r *received) add(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if len(p) < 4 {
		r.note("a payload of %d bytes", len(p))
		return
	}
	i := binary.BigEndian.Uint32(p)
	for j := 4; j < len(p); j++ {
		if p[j] != byte(i)+byte(j) {
			r.note("payload %d is corrupt at byte %d", i, j)
			break
		}
	}
	if i != r.next {
		r.note("payload %d after %d", i, int64(r.next)-1)
	}
	r.next = i + 1
}

// note records a fault, the first few of them.
func (r *received) note(format string, args ...any) {
	if len(r.bad) < 10 {
		r.bad = append(r.bad, fmt.Sprintf(format, args...))
	}
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *received) errs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// waitFor waits until n payloads arrived, or until deadline.
func (r *received) waitFor(n int, deadline time.Time) bool {
	for ; time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if r.count() >= n {
			return true
		}
	}
	return r.count() >= n
}

// gate holds the writes of the connections it dialled while shut, as a
// server that stops reading would once the socket's buffers are full,
// without waiting for those buffers to fill.
type gate struct {
	mu sync.Mutex
	ch chan struct{} // closed while open
	// held counts writes that found the gate shut.
	held atomic.Int64
}

func newGate() *gate {
	g := &gate{ch: make(chan struct{})}
	close(g.ch)
	return g
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ch = make(chan struct{})
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.ch)
}

// dial is the sender's drivers.Config.Dial.
func (g *gate) dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g, closed: make(chan struct{})}, nil
}

type gatedConn struct {
	net.Conn
	g      *gate
	once   sync.Once
	closed chan struct{}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	c.g.mu.Lock()
	ch := c.g.ch
	c.g.mu.Unlock()
	select {
	case <-ch:
	default:
		c.g.held.Add(1)
		select {
		case <-ch:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(b)
}

// Close ends a write held at the gate too, as closing a socket ends a
// blocked write: Run relies on that to stop.
func (c *gatedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// pionTCP runs a pion/turn server that listens on TCP on loopback and
// relays over UDP there, until the test ends.
func pionTCP(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := pionturn.GenerateAuthKey(realturn.User, realturn.Realm, realturn.Password)
	s, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: realturn.Realm,
		AuthHandler: func(u, _ string, _ net.Addr) ([]byte, bool) {
			return key, u == realturn.User
		},
		ListenerConfigs: []pionturn.ListenerConfig{{
			Listener: l,
			RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// peer is one Node under a Driver over a portable Conn on loopback.
type peer struct {
	name   string
	d      *drivers.Driver
	addr   netip.AddrPort
	raw    chan node.Event
	events chan node.Event
	rx     received
	done   chan error
}

// startPeer starts a driver whose relay streams are dialled by dial (nil:
// the default).
func startPeer(t *testing.T, ctx context.Context, name string, dial func(context.Context, string, string) (net.Conn, error)) *peer {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// The relay forwards a burst at once when the stream opens; a small
	// receive buffer would drop some of it, which is no back-pressure's
	// fault.
	if err := uc.SetReadBuffer(4 << 20); err != nil {
		t.Logf("read buffer: %v", err)
	}
	p := &peer{name: name, addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		raw: make(chan node.Event, 1024), events: make(chan node.Event, 1024), done: make(chan error, 1)}
	p.d, err = drivers.New(portable.New(uc), drivers.Config{
		Node:    node.Config{ICE: quiet},
		OnEvent: func(e node.Event) { p.raw <- e },
		OnData:  func(_ node.ConnID, b []byte) { p.rx.add(b) },
		Logger:  logcheck.New(t),
		Dial:    dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	go func() { p.done <- p.d.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: driver did not stop", name)
		}
	})
	return p
}

func (p *peer) stats(t *testing.T, ctx context.Context) drivers.Stats {
	t.Helper()
	st, err := p.d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// route is the signalling from p to other: every candidate p gathers (a
// has only its relayed one). Every event goes on to p.events.
func (p *peer) route(ctx context.Context, t *testing.T, other *peer) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.raw:
			if c, ok := e.(node.CandidateGathered); ok {
				if p.name == "a" && c.Candidate.Type != stunmsg.Relay {
					t.Errorf("a gathered %v: it should have only its relayed address", c.Candidate)
				}
				err := other.d.AddRemoteCandidate(ctx, conn, c.Candidate)
				if err != nil && ctx.Err() == nil {
					t.Errorf("%s refused %v: %v", other.name, c.Candidate, err)
				}
			}
			p.events <- e
		}
	}
}

// awaitConnected returns the path of p's Connected event, failing the
// test on a Failed one or after 10 s.
func (p *peer) awaitConnected(t *testing.T) node.Path {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-p.events:
			switch e := e.(type) {
			case node.Connected:
				return e.Path
			case node.Failed:
				t.Fatalf("%s: %v", p.name, e)
			}
		case <-timeout:
			t.Fatalf("%s: not connected within 10 s", p.name)
		}
	}
}

// connect gives both peers the connection, then starts the signalling
// (pair.Connect says why in that order).
func connect(t *testing.T, ctx context.Context, a, b *peer) {
	t.Helper()
	pair.Connect(t, ctx, a.d, b.d, conn)
	go a.route(ctx, t, b)
	go b.route(ctx, t, a)
}
