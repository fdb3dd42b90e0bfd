package relay_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// Operators shorten coturn's permission and channel lifetimes (60 s and
// 90 s are seen); here 10 s and 15 s, so that three permissions expire
// within the test. The clients refresh at RFC 8656's 240 s and 300 s and
// cannot learn better: each expiry silences the path through it until the
// node, seeing its probe lost, asks for the permission and channel again.
// A datagram goes each way every 20 ms for 35 s; the connection must never
// fail and no side may go without data for long.
func TestCoturnWithShortPermissionAndChannelLifetimesKeepsARelayedConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for 35 s; skipped with -short")
	}
	t.Parallel()
	srv := realturn.Coturn(t, realturn.CoturnConfig{Extra: []string{"--permission-lifetime=10", "--channel-lifetime=15"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := startPeer(t, ctx, "a"), startPeer(t, ctx, "b")
	connectRelayed(t, ctx, srv, a, b)

	const streamFor = 35 * time.Second
	// The longest gap between arrivals, and the last arrival (ns since
	// start), so that a stream that stopped for good counts too.
	var gaps, lasts [2]atomic.Int64
	start := time.Now()
	for i, p := range []*peer{a, b} {
		sink := make(chan []byte, 4096)
		p.sink.Store(&sink)
		go func() {
			last := time.Now()
			for {
				select {
				case <-ctx.Done():
					return
				case <-sink:
				}
				now := time.Now()
				if g := int64(now.Sub(last)); g > gaps[i].Load() {
					gaps[i].Store(g)
				}
				last = now
				lasts[i].Store(int64(now.Sub(start)))
			}
		}()
		go func() {
			buf := make([]byte, 200)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for end := time.Now().Add(streamFor); time.Now().Before(end); {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				err := p.d.Send(ctx, conn, buf)
				if err != nil && !errors.Is(err, gso.ErrQueueFull) && !errors.Is(err, node.ErrPendingFull) && ctx.Err() == nil {
					t.Errorf("%s: send: %v", p.name, err)
					return
				}
			}
		}()
	}
	time.Sleep(streamFor + 100*time.Millisecond)
	for i, p := range []*peer{a, b} {
		for _, e := range p.drainEvents() {
			t.Logf("%s: %v", p.name, e)
			if f, ok := e.(node.Failed); ok {
				t.Errorf("%s: %v with short lifetimes", p.name, f)
			}
		}
		rs, err := p.d.RelayStats(ctx, srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		gap := max(time.Duration(gaps[i].Load()), time.Since(start)-time.Duration(lasts[i].Load()))
		t.Logf("%s: longest gap in delivery %v; reinstalls %d, verifications %d, reallocations %d",
			p.name, gap.Round(time.Millisecond), rs.Client.Reinstalls, rs.Client.Verifications, rs.Client.Reallocations)
		// A short lifetime may cost one probe timeout, never the
		// connection. Unloaded, the gap is about 3 s (one lost probe, then
		// the reinstall); on a machine busy enough to delay the probes and
		// coturn themselves it reached 9.8 s.
		if limit := ice.DefaultConfig().ProbeTimeout; gap > limit {
			t.Errorf("%s: %v without data, want under %v", p.name, gap, limit)
		}
	}
}
