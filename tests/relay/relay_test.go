package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

func TestTwoNodesConnectThroughPionTurnAndMoveAThousandDatagramsEachWay(t *testing.T) {
	t.Parallel()
	throughRelay(t, realturn.Pion(t, realturn.PionConfig{}), false)
}

func TestTwoNodesConnectThroughCoturnAndMoveAThousandDatagramsEachWay(t *testing.T) {
	t.Parallel()
	throughRelay(t, realturn.Coturn(t, realturn.CoturnConfig{}), false)
}

func TestKillingCoturnRaisesRelayFailedWithinTheBoundAndFailsTheConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the relay to be declared lost; skipped with -short")
	}
	t.Parallel()
	throughRelay(t, realturn.Coturn(t, realturn.CoturnConfig{}), true)
}

// throughRelay connects two nodes through srv, checks that their path is
// relayed, moves datagrams both ways, and with kill stops the server and
// waits for RelayFailed and the connection's Failed{RelayLost}.
func throughRelay(t *testing.T, srv *realturn.Server, kill bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeer(t, ctx, "a"), startPeer(t, ctx, "b")
	start := time.Now()
	paths := connectRelayed(t, ctx, srv, a, b)
	for i, p := range []*peer{a, b} {
		path := paths[i]
		if path.Local.Type != stunmsg.Relay && path.Remote.Type != stunmsg.Relay {
			t.Fatalf("%s: connected on %v, not through the relay", p.name, path)
		}
		t.Logf("%s %s: connected after %v on %v", srv.Name, p.name, time.Since(start).Round(time.Millisecond), path)
	}

	sent := time.Now()
	drops := kernelUDPReceiveDrops()
	var wg sync.WaitGroup
	for _, pr := range [][2]*peer{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr[0].sendAll(ctx, t, 1000, pr[1])
		}()
	}
	wg.Wait()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if a.count.Load() == datagrams && b.count.Load() == datagrams {
			break
		}
	}
	t.Logf("%s: %d datagrams to a, %d to b in %v", srv.Name, a.count.Load(), b.count.Load(),
		time.Since(sent).Round(time.Millisecond))
	if a.count.Load() != datagrams || b.count.Load() != datagrams {
		t.Fatalf("%s: received a=%d b=%d, want %d each (the kernel counted %d UDP receive-buffer drops meanwhile, on any socket)",
			srv.Name, a.count.Load(), b.count.Load(), datagrams, kernelUDPReceiveDrops()-drops)
	}
	if !kill {
		return
	}

	srv.Kill()
	killed := time.Now()
	bound := relayTimers.WithDefaults().LostWithin()
	for _, p := range []*peer{a, b} {
		var lost node.RelayFailed
		var failed node.Failed
		for lost.Server != srv.Addr || failed.Reason == 0 {
			switch e := p.await(t, bound+2*time.Second, "failed", func(e node.Event) bool {
				switch e.(type) {
				case node.RelayFailed, node.Failed:
					return true
				}
				return false
			}).(type) {
			case node.RelayFailed:
				lost = e
				after := time.Since(killed)
				t.Logf("%s %s: %v after %v (bound %v)", srv.Name, p.name, e, after.Round(time.Millisecond), bound)
				if after > bound+500*time.Millisecond {
					t.Errorf("%s: RelayLost %v after the kill, bound %v", p.name, after, bound)
				}
			case node.Failed:
				failed = e
				t.Logf("%s %s: %v after %v", srv.Name, p.name, e, time.Since(killed).Round(time.Millisecond))
			}
		}
		if failed.Reason != node.RelayLost {
			t.Errorf("%s: connection ended with %v, want RelayLost", p.name, failed.Reason)
		}
	}
}
