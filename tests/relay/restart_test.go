package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

func TestAfterPionTurnRestartsARelayOnlyConnectionMovesToNewAllocations(t *testing.T) {
	t.Parallel()
	carriedOverARestart(t, realturn.Pion(t, realturn.PionConfig{}), false)
}

func TestAfterPionTurnRestartsAConnectionFromRelayToRelayMovesToNewAllocations(t *testing.T) {
	t.Parallel()
	carriedOverARestart(t, realturn.Pion(t, realturn.PionConfig{}), true)
}

func TestAfterCoturnRestartsARelayOnlyConnectionMovesToNewAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts coturn and waits for the connection to move; skipped with -short")
	}
	t.Parallel()
	carriedOverARestart(t, realturn.Coturn(t, realturn.CoturnConfig{}), false)
}

func TestAfterCoturnRestartsAConnectionFromRelayToRelayMovesToNewAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts coturn and waits for the connection to move; skipped with -short")
	}
	t.Parallel()
	carriedOverARestart(t, realturn.Coturn(t, realturn.CoturnConfig{}), true)
}

// carriedOverARestart connects two Nodes only through srv, with the TURN
// client's default timers (the next Refresh minutes away, a keepalive
// every 25 s), streams a datagram every 20 ms from a to b, and restarts
// the server. The restarted server knows no allocation and says nothing
// about it; the connection must find out from its own silence, move both
// sides to new allocations (PathChanged, never Failed) and carry data
// again well within the probe timeout.
//
// Without relayToRelay each side may reach the other's relayed address
// from its host address, so the paths cross one allocation each. With it
// both sides reach only the server: the one path runs from a's relayed
// address to b's, through both allocations, and both relayed addresses
// share the server's IP (one permission each way covers old and new).
func carriedOverARestart(t *testing.T, srv *realturn.Server, relayToRelay bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeerWith(t, ctx, "a", turn.Config{}), startPeerWith(t, ctx, "b", turn.Config{})
	if relayToRelay {
		a.fw.allowOnly(srv.Addr)
		b.fw.allowOnly(srv.Addr)
	}
	paths := connectRelayed(t, ctx, srv, a, b)
	if relayToRelay && (paths[0].Local.Type != stunmsg.Relay || paths[0].Remote.Type != stunmsg.Relay) {
		t.Fatalf("a connected on %v, not relay to relay", paths[0])
	}

	go func() {
		buf := make([]byte, 200)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < datagrams; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			binary.BigEndian.PutUint32(buf, uint32(i))
			// While the connection has no path the Node buffers a few and
			// then refuses; a VPN would drop those too.
			err := a.d.Send(ctx, conn, buf)
			if err != nil && !errors.Is(err, gso.ErrQueueFull) && !errors.Is(err, node.ErrPendingFull) && ctx.Err() == nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	}()
	time.Sleep(time.Second)
	before := b.count.Load()
	if before == 0 {
		t.Fatal("no data arrived before the restart")
	}

	// Events from the connection's setup (a first upgrade of its path)
	// are not the ones this test waits for.
	for _, p := range []*peer{a, b} {
		for _, e := range p.drainEvents() {
			t.Logf("%s %s before the restart: %v", srv.Name, p.name, e)
		}
	}
	srv.Restart()
	restarted := time.Now()
	defer func() {
		if !t.Failed() {
			return
		}
		for _, p := range []*peer{a, b} {
			rs, _ := p.d.RelayStats(context.Background(), srv.Addr)
			t.Logf("%s %s: relay %v %+v", srv.Name, p.name, rs.State, rs.Client)
		}
	}()
	timeout := ice.DefaultConfig().ProbeTimeout
	for _, p := range []*peer{a, b} {
		e := p.await(t, timeout, "a path change", func(e node.Event) bool { _, ok := e.(node.PathChanged); return ok })
		t.Logf("%s %s: %v after %v", srv.Name, p.name, e, time.Since(restarted).Round(time.Millisecond))
	}
	// Data flows again: 25 more datagrams (half a second's worth) arrive.
	var resumed time.Duration
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if b.count.Load() >= before+25 {
			resumed = time.Since(restarted)
			break
		}
	}
	shape := "host-relay"
	if relayToRelay {
		shape = "relay-relay"
	}
	if resumed == 0 {
		for _, p := range []*peer{a, b} {
			rs, _ := p.d.RelayStats(ctx, srv.Addr)
			t.Logf("%s %s: relay %v %+v", srv.Name, p.name, rs.State, rs.Client)
			for _, e := range p.drainEvents() {
				t.Logf("%s %s: %v", srv.Name, p.name, e)
			}
		}
		t.Fatalf("%s: data did not flow again within %v of the restart (b has %d, had %d)", srv.Name, timeout, b.count.Load(), before)
	}
	t.Logf("relay-restart server=%s path=%s gap=%v", srv.Name, shape, resumed.Round(time.Millisecond))
	if resumed > timeout/2 {
		t.Errorf("%s: data flowed again only %v after the restart, want within half the probe timeout (%v)", srv.Name, resumed, timeout/2)
	}
	reallocated := 0
	for _, p := range []*peer{a, b} {
		rs, err := p.d.RelayStats(ctx, srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c := rs.Client
		t.Logf("%s %s: state %v verifications %d reallocations %d", srv.Name, p.name, rs.State, c.Verifications, c.Reallocations)
		reallocated += int(c.Reallocations)
	}
	if reallocated == 0 {
		t.Errorf("%s: no side re-allocated", srv.Name)
	}
}
