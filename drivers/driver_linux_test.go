package drivers

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

type peerSide struct {
	d      *Driver
	addr   netip.AddrPort
	events chan node.Event
	data   chan []byte
}

func startPeer(t *testing.T, ctx context.Context) (*peerSide, chan error) {
	t.Helper()
	return startPeerWith(t, ctx, nil, nil, 0)
}

// startPeerWith starts a peer on loopback; wrap, if not nil, wraps its Conn,
// onData, if not nil, replaces the channel that collects payloads, and
// dataLimit, if not 0, is the send queue's DataByteLimit.
func startPeerWith(t *testing.T, ctx context.Context, wrap func(*linux.Conn) pump.Conn, onData func(node.ConnID, []byte), dataLimit int) (*peerSide, chan error) {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// A deep receive buffer: the tests send faster than a receiving loop
	// may be scheduled, and loopback drops what overflows it. Root may
	// exceed rmem_max.
	rc, _ := uc.SyscallConn()
	rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20) })
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var c pump.Conn = lc
	if wrap != nil {
		c = wrap(lc)
	}
	p := &peerSide{
		addr:   uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 256),
		data:   make(chan []byte, 4096),
	}
	if onData == nil {
		onData = func(_ node.ConnID, b []byte) { p.data <- bytes.Clone(b) }
	}
	p.d, err = New(c, Config{
		OnEvent: func(e node.Event) { p.events <- e },
		OnData:  onData,
		Logger:  logcheck.New(t),
		Pump:    pump.Config{Queue: gso.Config{DataByteLimit: dataLimit}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.d.Run(ctx) }()
	if err := p.d.AddLocalAddress(ctx, p.addr); err != nil {
		t.Fatal(err)
	}
	return p, done
}

// connectBoth forwards each side's candidates to the other until both
// report Connected.
func connectBoth(t *testing.T, ctx context.Context, a, b *peerSide) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	connected := 0
	handle := func(e node.Event, other *peerSide) {
		switch e := e.(type) {
		case node.CandidateGathered:
			if err := other.d.AddRemoteCandidate(ctx, 1, e.Candidate); err != nil {
				t.Fatal(err)
			}
		case node.Connected:
			connected++
		case node.Failed:
			t.Fatalf("connection failed: %v", e)
		}
	}
	for connected < 2 {
		select {
		case e := <-a.events:
			handle(e, b)
		case e := <-b.events:
			handle(e, a)
		case <-timeout:
			t.Fatal("not connected within 10 s")
		}
	}
}

// connectPeers has a and b connect as connection 1.
func connectPeers(t *testing.T, ctx context.Context, a, b *peerSide) {
	t.Helper()
	ca := node.Credentials{Ufrag: "aaaaaaaa", Pwd: "aaaaaaaaaaaaaaaaaaaaaaaa"}
	cb := node.Credentials{Ufrag: "bbbbbbbb", Pwd: "bbbbbbbbbbbbbbbbbbbbbbbb"}
	if _, err := a.d.Connect(ctx, 1, node.Controlling, ca, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.d.Connect(ctx, 1, node.Controlled, cb, ca); err != nil {
		t.Fatal(err)
	}
	connectBoth(t, ctx, a, b)
}

func TestTwoDriversConnectOverLoopbackAndStopCleanly(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	a, aDone := startPeer(t, ctx)
	b, bDone := startPeer(t, ctx)
	connectPeers(t, ctx, a, b)

	// UDP has no flow control: a sender that outruns the receiving
	// socket's buffer loses datagrams even on loopback. So the test sends in
	// windows that fit any receive buffer and waits for each window before
	// the next; within that pacing, loopback must lose and reorder nothing.
	const count, window = 1000, 50
	for start := 0; start < count; start += window {
		for i := start; i < start+window; i++ {
			p := []byte{byte(i >> 8), byte(i), 'x'}
			for {
				err := a.d.Send(ctx, 1, p)
				if err == nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		for i := start; i < start+window; i++ {
			select {
			case got := <-b.data:
				if got[0] != byte(i>>8) || got[1] != byte(i) {
					t.Fatalf("datagram %d arrived as %d", i, int(got[0])<<8|int(got[1]))
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("only %d of %d datagrams arrived", i, count)
			}
		}
	}
	checkStats(t, ctx, a, b, count)

	cancel()
	for _, done := range []chan error{aDone, bDone} {
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	if err := a.d.Send(context.Background(), 1, []byte("late")); err != ErrStopped {
		t.Fatalf("command after stop: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("%d goroutines outlive the drivers (%d before)", n, goroutines)
	}
}

// checkStats: the counters every layer keeps agree with what the test sent.
func checkStats(t *testing.T, ctx context.Context, a, b *peerSide, count uint64) {
	t.Helper()
	// The last round of sends may still be with the sending goroutine,
	// taken by the kernel (the peer has it) but not yet counted: a
	// snapshot lags by at most that round, so wait for it to settle.
	var sa Stats
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		var err error
		if sa, err = a.d.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if sa.Pump.DatagramsSent >= count || time.Now().After(end) {
			break
		}
	}
	if sa.Conn.SentDatagrams < count || sa.Conn.SendCalls == 0 || sa.Queue.Batches == 0 || sa.Pump.DatagramsSent < count {
		t.Fatalf("sender stats %+v", sa)
	}
	ca, err := a.d.ConnStats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.d.ConnStats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ca.DatagramsSent != count || ca.BytesSent != 3*count || cb.DatagramsReceived != count || !ca.Connected {
		t.Fatalf("conn stats: sender %+v, receiver %+v", ca, cb)
	}
	if _, err := a.d.ConnStats(ctx, 99); err != node.ErrUnknownConn {
		t.Fatalf("ConnStats of an unknown connection: %v", err)
	}
}
