package drivers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

func TestParseRelayURLKnowsTurnAndTurnsAndRefusesTheRest(t *testing.T) {
	good := []struct {
		url       string
		server    string
		transport node.Transport
		host      string
	}{
		{"turn:192.0.2.1", "192.0.2.1:3478", node.UDP, "192.0.2.1"},
		{"turn:192.0.2.1:9?transport=udp", "192.0.2.1:9", node.UDP, "192.0.2.1"},
		{"turn:192.0.2.1:9?transport=tcp", "192.0.2.1:9", node.TCP, "192.0.2.1"},
		{"turns:192.0.2.1", "192.0.2.1:5349", node.TLS, "192.0.2.1"},
		{"turns:192.0.2.1:443?transport=tcp", "192.0.2.1:443", node.TLS, "192.0.2.1"},
		{"turns:localhost:443", "127.0.0.1:443", node.TLS, "localhost"},
	}
	for _, g := range good {
		server, tr, host, err := ParseRelayURL(context.Background(), g.url)
		if err != nil || server.String() != g.server || tr != g.transport || host != g.host {
			t.Errorf("%s: %v %v %q %v", g.url, server, tr, host, err)
		}
	}
	for _, bad := range []string{"stun:192.0.2.1", "turn:192.0.2.1?transport=sctp", "turns:192.0.2.1?transport=udp",
		"turn:u@192.0.2.1", "turn:192.0.2.1:0", "turn:192.0.2.1:70000", "turn://192.0.2.1", "turn:"} {
		if _, _, _, err := ParseRelayURL(context.Background(), bad); !errors.Is(err, ErrRelayURL) {
			t.Errorf("%s: err %v, want ErrRelayURL", bad, err)
		}
	}
}

func TestAPinnedTLSConfigTakesOnlyAKeyWithThatHash(t *testing.T) {
	cert := &x509.Certificate{RawSubjectPublicKeyInfo: []byte("key")}
	other := &x509.Certificate{RawSubjectPublicKeyInfo: []byte("other key")}
	cfg := relayTLSConfig(RelayTLS{PinSHA256: [][]byte{SPKIHash(cert)}}, "192.0.2.1")
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}); err != nil {
		t.Fatalf("pinned key refused: %v", err)
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{other}}); err == nil {
		t.Fatal("another key accepted")
	}
	if cfg := relayTLSConfig(RelayTLS{}, "relay.example"); cfg.InsecureSkipVerify || cfg.ServerName != "relay.example" {
		t.Fatalf("unpinned config %+v", cfg)
	}
}

// fakeServer accepts connections and runs serve on each, in order.
func fakeServer(t *testing.T, serve ...func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for _, s := range serve {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func TestAStreamThatLosesItsFramingIsClosedCountedAndDialledAgain(t *testing.T) {
	msg := stunmsg.PlainBindingRequest(stunmsg.TxID{7})
	server := fakeServer(t,
		// A message, then bytes that start none: the reader must stop
		// there, hand on only the message and close the stream.
		func(c net.Conn) { c.Write(append(append([]byte(nil), msg...), 0x80, 1, 2, 3)) },
		// The next connection works: the stream was dialled again.
		func(c net.Conn) { c.Write(msg) },
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	s := newStreams((&net.Dialer{}).DialContext, done, &wg, func(string, ...any) {})
	defer func() { close(done); wg.Wait() }()
	local := netip.MustParseAddrPort("10.0.0.1:4000")
	s.send(node.Transmit{Src: local, Dst: server, Payload: msg, Class: gso.Control, Transport: node.TCP})
	var got []streamMsg
	for len(got) < 3 {
		select {
		case m := <-s.in:
			got = append(got, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d messages, stats %+v", len(got), s.count.snapshot())
		}
	}
	// The message, the reset notice of the second stream, the message.
	if string(got[0].b) != string(msg) || got[1].b != nil || string(got[2].b) != string(msg) || got[0].key.local != local {
		t.Fatalf("messages %v", got)
	}
	if st := s.count.snapshot(); st.Corrupt != 1 || st.Dials != 2 || st.MessagesIn != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAStreamNobodyWritesOnIsClosedAndTheNextTransmitOpensAnother(t *testing.T) {
	msg := stunmsg.PlainBindingRequest(stunmsg.TxID{7})
	hold := func(c net.Conn) { go func() { b := make([]byte, 100); c.Read(b); c.Read(b); c.Close() }() }
	server := fakeServer(t, hold, hold)
	done := make(chan struct{})
	var wg sync.WaitGroup
	s := newStreams((&net.Dialer{}).DialContext, done, &wg, func(string, ...any) {})
	s.idle = 50 * time.Millisecond
	defer func() { close(done); wg.Wait() }()
	tr := node.Transmit{Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: server, Payload: msg, Class: gso.Control, Transport: node.TCP}
	s.send(tr)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.all)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the idle stream stayed")
		}
	}
	s.send(tr)
	// The second message, not the second dial: the dial is counted before
	// the write, and a check between them saw one message out.
	for end := time.Now().Add(10 * time.Second); s.count.out.Load() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no second stream: %+v", s.count.snapshot())
		}
	}
	if st := s.count.snapshot(); st.Broken != 0 || st.MessagesOut != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAStreamThatCannotWriteRefusesMoreThanItsQueueAndTheCallerKeepsIt(t *testing.T) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	// A dial that never completes: nothing leaves the queue.
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }
	s := newStreams(hang, done, &wg, func(string, ...any) {})
	defer func() { close(done); wg.Wait() }()
	tr := node.Transmit{Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddrPort("192.0.2.1:3478"),
		Payload: make([]byte, 1000), Class: gso.Data, Transport: node.TCP}
	taken := 0
	for s.send(tr) {
		taken++
		if taken > 1000 {
			t.Fatal("the queue took a megabyte")
		}
	}
	if taken != streamQueueBytes/1000 {
		t.Fatalf("took %d transmits of 1000 bytes, want %d", taken, streamQueueBytes/1000)
	}
}

// A writer blocked on a server that stopped reading would hold the
// driver's stop for streamWriteTimeout; stopping closes the connection.
func TestStopEndsAWriteBlockedOnAServerThatStoppedReading(t *testing.T) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	dialed := make(chan struct{}, 1)
	// net.Pipe is unbuffered: with nobody reading the far end, the first
	// write blocks.
	dial := func(context.Context, string, string) (net.Conn, error) {
		c, _ := net.Pipe()
		dialed <- struct{}{}
		return c, nil
	}
	s := newStreams(dial, done, &wg, func(string, ...any) {})
	s.send(node.Transmit{Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddrPort("192.0.2.1:3478"),
		Payload: make([]byte, 100), Class: gso.Data, Transport: node.TCP})
	<-dialed
	close(done)
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	// Half the write timeout: a stop that waited for it fails here.
	select {
	case <-stopped:
	case <-time.After(streamWriteTimeout / 2):
		t.Fatal("the stop waited for the blocked write")
	}
	if st := s.count.snapshot(); st.Broken != 0 || st.Dropped != 0 {
		t.Fatalf("a stop counted as a break or a drop: %+v", st)
	}
}

// What a stream could not write is counted, never lost silently: the rest
// of a batch a broken connection refused, and a queue forgotten with a
// stream that stayed unreachable.
func TestMessagesAStreamNeverWroteAreCountedAsDropped(t *testing.T) {
	msg := make([]byte, 100)
	tr := node.Transmit{Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddrPort("192.0.2.1:3478"),
		Payload: msg, Class: gso.Data, Transport: node.TCP}
	wait := func(s *streams, what string, ok func(StreamStats) bool) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); !ok(s.count.snapshot()); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: %+v", what, s.count.snapshot())
			}
		}
	}

	// Broken while writing: the server end is closed at once.
	done := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	gate := make(chan struct{})
	closedPipe := func(context.Context, string, string) (net.Conn, error) {
		c, far := net.Pipe()
		far.Close()
		once.Do(func() { <-gate }) // the first dial waits until both are queued
		return c, nil
	}
	s := newStreams(closedPipe, done, &wg, func(string, ...any) {})
	s.send(tr)
	s.send(tr)
	close(gate)
	wait(s, "two messages lost with a broken stream", func(st StreamStats) bool { return st.Dropped == 2 })
	if st := s.count.snapshot(); st.DroppedBytes != 200 || st.MessagesOut != 0 {
		t.Fatalf("stats %+v", st)
	}
	close(done)
	wg.Wait()

	// Unreachable and idle: the stale queue is forgotten with the stream.
	done = make(chan struct{})
	refuse := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused") }
	s = newStreams(refuse, done, &wg, func(string, ...any) {})
	s.idle = 50 * time.Millisecond
	s.send(tr)
	wait(s, "a stale queue forgotten", func(st StreamStats) bool { return st.Dropped == 1 })
	if st := s.count.snapshot(); st.DroppedBytes != 100 {
		t.Fatalf("stats %+v", st)
	}
	close(done)
	wg.Wait()
}
