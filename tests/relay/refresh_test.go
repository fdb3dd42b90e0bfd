package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/peerlink/peerlink/tests/internal/realturn"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// refreshTimers renew the allocation, the permissions and the channel
// every 2 s, so three cycles fit in a few seconds of a test.
var refreshTimers = turn.Config{
	KeepaliveInterval:      2 * time.Second,
	RequestRTO:             100 * time.Millisecond,
	RequestRTOMax:          400 * time.Millisecond,
	RequestTransmits:       5,
	Lifetime:               60 * time.Second,
	RefreshAfter:           2 * time.Second,
	PermissionRefreshAfter: 2 * time.Second,
	ChannelRefreshAfter:    2 * time.Second,
}

func TestThroughPionTurnRefreshCyclesLeaveNoGapInData(t *testing.T) {
	t.Parallel()
	refreshesWithoutGap(t, realturn.Pion(t, realturn.PionConfig{}), false)
}

func TestThroughCoturnRefreshCyclesAndAStaleNonceLeaveNoGapInData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three refresh cycles in real time; skipped with -short")
	}
	t.Parallel()
	// Nonces go stale after 3 s, so the second or third refresh meets 438.
	refreshesWithoutGap(t, realturn.Coturn(t, realturn.CoturnConfig{StaleNonce: 3 * time.Second}), true)
}

// refreshesWithoutGap connects two relayed nodes through srv, streams one
// datagram every 20 ms each way for 7.5 s — three refresh cycles — and
// checks that every datagram arrived and that the relay really renewed
// the allocation, the permissions and the channel (and, with stale, got
// past a 438).
func refreshesWithoutGap(t *testing.T, srv *realturn.Server, stale bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeerWith(t, ctx, "a", refreshTimers), startPeerWith(t, ctx, "b", refreshTimers)
	connectRelayed(t, ctx, srv, a, b)

	const count, every = 375, 20 * time.Millisecond
	done := make(chan struct{}, 2)
	for _, p := range []*peer{a, b} {
		go func() {
			defer func() { done <- struct{}{} }()
			buf := make([]byte, 200)
			tick := time.NewTicker(every)
			defer tick.Stop()
			for i := 0; i < count; {
				<-tick.C
				binary.BigEndian.PutUint32(buf, uint32(i))
				if err := p.d.Send(ctx, conn, buf); err != nil && !errors.Is(err, gso.ErrQueueFull) {
					t.Errorf("%s: send %d: %v", p.name, i, err)
					return
				}
				i++
			}
		}()
	}
	<-done
	<-done
	time.Sleep(300 * time.Millisecond)
	for _, p := range []*peer{a, b} {
		if got := p.count.Load(); got != count {
			t.Errorf("%s %s: %d of %d datagrams arrived across the refreshes", srv.Name, p.name, got, count)
		}
		rs, err := p.d.RelayStats(ctx, srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c := rs.Client
		t.Logf("%s %s: state %v refreshes %d permission refreshes %d channel refreshes %d stale nonces %d reallocations %d",
			srv.Name, p.name, rs.State, c.Refreshes, c.PermissionRefreshes, c.ChannelRefreshes, c.StaleNonces, c.Reallocations)
		cs, err := p.d.ConnStats(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if !cs.Connected || !cs.Path.ThroughOurRelay() && cs.Path.Remote.Type != stunmsg.Relay {
			t.Errorf("%s %s: connection on %v", srv.Name, p.name, cs.Path)
		}
		if c.Refreshes < 3 || c.PermissionRefreshes < 3 {
			t.Errorf("%s %s: fewer than three refresh cycles: %+v", srv.Name, p.name, c)
		}
		// Only the side whose path leaves from its own relay binds a
		// channel; the other sends to the peer's relayed address directly.
		if cs.Path.ThroughOurRelay() && (c.ChannelRefreshes < 3 || c.ChannelDataSent == 0) {
			t.Errorf("%s %s: the channel was not refreshed three times: %+v", srv.Name, p.name, c)
		}
		if stale && c.StaleNonces == 0 {
			t.Errorf("%s %s: no stale nonce was met", srv.Name, p.name)
		}
		if c.Reallocations != 0 || rs.State != turn.StateAllocated {
			t.Errorf("%s %s: the allocation did not survive: %v, %d reallocations", srv.Name, p.name, rs.State, c.Reallocations)
		}
	}
}

// connectRelayed adds srv to both peers, blocks their direct path, waits
// until both are connected and returns the path each connected on.
func connectRelayed(t *testing.T, ctx context.Context, srv *realturn.Server, a, b *peer) [2]node.Path {
	t.Helper()
	a.fw.block(b.addr)
	b.fw.block(a.addr)
	for _, p := range []*peer{a, b} {
		if err := p.addRelay(ctx, srv); err != nil {
			t.Fatal(err)
		}
	}
	credA, credB := ice.NewCredentials(seeded(1)), ice.NewCredentials(seeded(2))
	if _, err := a.d.Connect(ctx, conn, node.Controlling, credA, credB); err != nil {
		t.Fatal(err)
	}
	if _, err := b.d.Connect(ctx, conn, node.Controlled, credB, credA); err != nil {
		t.Fatal(err)
	}
	// Signalling starts once both sides have the connection: a candidate
	// that reached b before b's Connect would be refused (ErrUnknownConn),
	// and a relay candidate lost so leaves b's relay without a permission
	// for a, which then never connects (the flake this fixed). Events wait
	// in p.raw meanwhile.
	go a.route(ctx, t, b)
	go b.route(ctx, t, a)
	var paths [2]node.Path
	for i, p := range []*peer{a, b} {
		e := p.await(t, 10*time.Second, "connected", func(e node.Event) bool { _, ok := e.(node.Connected); return ok })
		paths[i] = e.(node.Connected).Path
	}
	return paths
}

func TestAWrongPasswordForPionTurnIsAnAuthErrorAfterOneAuthenticatedAttempt(t *testing.T) {
	t.Parallel()
	var auths atomic.Int64
	srv := realturn.Pion(t, realturn.PionConfig{OnAuth: func() { auths.Add(1) }})
	wrongPassword(t, srv)
	if got := auths.Load(); got != 1 {
		t.Fatalf("pion/turn saw %d authenticated requests, want exactly 1", got)
	}
}

func TestAWrongPasswordForCoturnIsAnAuthErrorAfterOneAuthenticatedAttempt(t *testing.T) {
	t.Parallel()
	wrongPassword(t, realturn.Coturn(t, realturn.CoturnConfig{}))
}

// wrongPassword adds srv with a wrong password and expects RelayFailed
// with reason auth quickly: one 401 challenge, one authenticated attempt,
// its refusal, and no further tries before the relay's retry wait.
func wrongPassword(t *testing.T, srv *realturn.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := startPeerWith(t, ctx, "a", refreshTimers)
	go func() {
		for {
			select {
			case e := <-p.raw:
				p.events <- e
			case <-ctx.Done():
				return
			}
		}
	}()
	start := time.Now()
	if err := p.d.Do(ctx, func(now time.Time, pp *pump.Pump) error {
		return pp.Node().AddRelay(now, srv.Addr, p.addr, realturn.User, "not-the-password")
	}); err != nil {
		t.Fatal(err)
	}
	e := p.await(t, 5*time.Second, "relay-lost", func(e node.Event) bool { _, ok := e.(node.RelayFailed); return ok })
	lost := e.(node.RelayFailed)
	t.Logf("%s: %v after %v", srv.Name, lost, time.Since(start).Round(time.Millisecond))
	if lost.Reason != turn.LostAuth || lost.Server != srv.Addr {
		t.Fatalf("%s: %v, want reason auth", srv.Name, lost)
	}
	// The Node tries again later (an operator may fix the account), not
	// now: the relay waits, lost.
	rs, err := p.d.RelayStats(ctx, srv.Addr)
	if err != nil || rs.State != turn.StateLost || lost.RetryIn <= 0 || rs.RetryAt.IsZero() {
		t.Fatalf("%s: after the loss: %+v, %v, RetryIn %v; want it lost and waiting to retry", srv.Name, rs, err, lost.RetryIn)
	}
}
