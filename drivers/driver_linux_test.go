package drivers

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/node"
)

type peerSide struct {
	d      *Driver
	addr   netip.AddrPort
	events chan node.Event
	data   chan []byte
}

func startPeer(t *testing.T, ctx context.Context) (*peerSide, chan error) {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &peerSide{
		addr:   uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 256),
		data:   make(chan []byte, 4096),
	}
	p.d, err = New(c, Config{
		OnEvent: func(e node.Event) { p.events <- e },
		OnData:  func(_ node.ConnID, b []byte) { p.data <- bytes.Clone(b) },
		Logger:  slog.New(slog.DiscardHandler),
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

func TestTwoDriversConnectOverLoopbackAndStopCleanly(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	a, aDone := startPeer(t, ctx)
	b, bDone := startPeer(t, ctx)
	ca := node.Credentials{Ufrag: "aaaaaaaa", Pwd: "aaaaaaaaaaaaaaaaaaaaaaaa"}
	cb := node.Credentials{Ufrag: "bbbbbbbb", Pwd: "bbbbbbbbbbbbbbbbbbbbbbbb"}
	if _, err := a.d.Connect(ctx, 1, node.Controlling, ca, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.d.Connect(ctx, 1, node.Controlled, cb, ca); err != nil {
		t.Fatal(err)
	}
	connectBoth(t, ctx, a, b)

	const count = 1000
	for i := range count {
		p := []byte{byte(i >> 8), byte(i), 'x'}
		for {
			err := a.d.Send(ctx, 1, p)
			if err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := range count {
		select {
		case got := <-b.data:
			if got[0] != byte(i>>8) || got[1] != byte(i) {
				// Loopback does not reorder; a mismatch is a loss or a reorder.
				t.Fatalf("datagram %d arrived as %d", i, int(got[0])<<8|int(got[1]))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d datagrams arrived", i, count)
		}
	}

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
