package drivers

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/node"
)

// signalAll forwards candidates and withdrawals between the two sides, and
// reports path changes and failures, until ctx ends.
func signalAll(ctx context.Context, a, b *peerSide, changed chan<- node.Event) {
	forward := func(e node.Event, other *peerSide) {
		switch e := e.(type) {
		case node.CandidateGathered:
			_ = other.d.AddRemoteCandidate(ctx, 1, e.Candidate)
		case node.CandidateWithdrawn:
			_ = other.d.RemoveRemoteCandidate(ctx, 1, e.Candidate.Addr)
		case node.Connected, node.PathChanged, node.Failed:
			select {
			case changed <- e:
			default:
			}
		}
	}
	for {
		select {
		case e := <-a.events:
			forward(e, b)
		case e := <-b.events:
			forward(e, a)
		case <-ctx.Done():
			return
		}
	}
}

// A running driver moves to a new socket (a new port) with Rebind: the
// connection carries on from the new address, in both directions, with no
// Failed, and nothing of the old socket outlives Run. Rebind twice, so
// that a receiver left behind (or a receive buffer it kept) would show.
func TestRebindMovesARunningDriverToANewSocket(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	a, aDone := startPeer(t, ctx)
	b, bDone := startPeer(t, ctx)
	ca := node.Credentials{Ufrag: "aaaaaaaa", Pwd: "aaaaaaaaaaaaaaaaaaaaaaaa"}
	cb := node.Credentials{Ufrag: "bbbbbbbb", Pwd: "bbbbbbbbbbbbbbbbbbbbbbbb"}
	if _, err := a.d.Connect(ctx, 1, node.Controlled, ca, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.d.Connect(ctx, 1, node.Controlling, cb, ca); err != nil {
		t.Fatal(err)
	}
	connectBoth(t, ctx, a, b)
	sigCtx, stopSignal := context.WithCancel(ctx)
	changed := make(chan node.Event, 64)
	go signalAll(sigCtx, a, b, changed)

	for round := range 2 {
		uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := linux.New(uc, linux.Config{})
		if err != nil {
			t.Fatal(err)
		}
		moved := uc.LocalAddr().(*net.UDPAddr).AddrPort()
		start := time.Now()
		if err := a.d.Rebind(ctx, c, AddressMove{From: a.addr, To: moved}); err != nil {
			t.Fatal(err)
		}
		a.addr = moved
		waitPath(t, changed, moved)
		t.Logf("round %d: on the new socket %v after %v", round, moved, time.Since(start))
		exchange(t, ctx, a, b, moved)
	}
	stopSignal()
	cancel()
	for _, done := range []chan error{aDone, bDone} {
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("%d goroutines outlive the drivers (%d before)", n, goroutines)
	}
}

// waitPath waits until a path change puts side a (the first to report one
// with src) on the new address; a Failed ends the test.
func waitPath(t *testing.T, changed <-chan node.Event, src netip.AddrPort) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-changed:
			switch e := e.(type) {
			case node.Failed:
				t.Fatalf("connection failed: %v", e)
			case node.PathChanged:
				if e.Path.Src() == src {
					return
				}
			}
		case <-timeout:
			t.Fatalf("no path from %v within 10 s", src)
		}
	}
}

// exchange sends a datagram each way and waits for both; a's path must
// leave from src.
func exchange(t *testing.T, ctx context.Context, a, b *peerSide, src netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, dir := range []struct{ from, to *peerSide }{{a, b}, {b, a}} {
		for got := false; !got; {
			if time.Now().After(deadline) {
				t.Fatal("no datagram crossed the rebound path within 10 s")
			}
			if err := dir.from.d.Send(ctx, 1, []byte("after rebind")); err != nil && err != node.ErrPendingFull {
				t.Fatal(err)
			}
			select {
			case <-dir.to.data:
				got = true
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	s, err := a.d.ConnStats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Path.Src() != src {
		t.Fatalf("a's path %v, want it from %v", s.Path, src)
	}
}
