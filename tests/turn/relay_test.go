package turn_test

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
)

const datagrams = 1000

// The scenarios, each run against both servers.

func TestPionTwoClientsMoveAThousandDatagramsEachWayThroughTheRelay(t *testing.T) {
	twoClientsExchange(t, startPion(t, 0), nil)
}

func TestCoturnTwoClientsMoveAThousandDatagramsEachWayThroughTheRelay(t *testing.T) {
	twoClientsExchange(t, startCoturn(t), nil)
}

func TestPionAllocationPermissionAndChannelSurviveThreeRefreshCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for several seconds; skipped with -short")
	}
	surviveRefreshes(t, startPion(t, shortLifetime))
}

func TestCoturnAllocationPermissionAndChannelSurviveThreeRefreshCyclesAndAStaleNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for several seconds; skipped with -short")
	}
	secs := strconv.Itoa(int(shortLifetime / time.Second))
	surviveRefreshes(t, startCoturn(t, "--max-allocate-lifetime="+secs,
		"--channel-lifetime="+secs, "--permission-lifetime="+secs))
}

func TestPionWrongPasswordIsAnAuthenticationErrorAfterOneSignedAttempt(t *testing.T) {
	wrongPassword(t, startPion(t, 0))
}

func TestCoturnWrongPasswordIsAnAuthenticationErrorAfterOneSignedAttempt(t *testing.T) {
	wrongPassword(t, startCoturn(t))
}

func TestPionStoppedServerIsReportedLostWithinTheConfiguredBound(t *testing.T) {
	serverKilled(t, startPion(t, 0))
}

func TestCoturnKilledServerIsReportedLostWithinTheConfiguredBound(t *testing.T) {
	serverKilled(t, startCoturn(t))
}

// pair is two clients on one server, each with a channel to the other's
// relayed address.
type pair struct {
	a, b                 *runner
	relayedA, relayedB   netip.AddrPort
	channelA, channelB   uint16
	allocatedAfter       time.Duration
	channelsBoundAfter   time.Duration
	lifetimeA, lifetimeB time.Duration
}

func allocatePair(t *testing.T, srv *relayServer, tweak func(*turn.Config)) *pair {
	t.Helper()
	cfg := testConfig(srv.addr, testUser, testPassword)
	if tweak != nil {
		tweak(&cfg)
	}
	start := time.Now()
	p := &pair{a: startRunner(t, cfg), b: startRunner(t, cfg)}
	ea := p.a.waitEvent(turn.EventAllocated, 5*time.Second)
	eb := p.b.waitEvent(turn.EventAllocated, 5*time.Second)
	p.allocatedAfter = time.Since(start)
	p.relayedA, p.relayedB, p.lifetimeA, p.lifetimeB = ea.Relayed, eb.Relayed, ea.Lifetime, eb.Lifetime
	t.Logf("%s: relayed %v and %v (lifetime %v), reflexive %v, allocated after %v",
		srv.name, p.relayedA, p.relayedB, p.lifetimeA, ea.Reflexive, p.allocatedAfter)
	bind := func(r *runner, peer netip.AddrPort) {
		if err := r.do(func(c *turn.Client, now time.Time) error { return c.BindChannel(now, peer) }); err != nil {
			t.Fatal(err)
		}
	}
	bind(p.a, p.relayedB)
	bind(p.b, p.relayedA)
	p.channelA = p.a.waitEvent(turn.EventChannelBound, 5*time.Second).Channel
	p.channelB = p.b.waitEvent(turn.EventChannelBound, 5*time.Second).Channel
	p.channelsBoundAfter = time.Since(start)
	return p
}

func twoClientsExchange(t *testing.T, srv *relayServer, tweak func(*turn.Config)) {
	p := allocatePair(t, srv, tweak)
	start := time.Now()
	errs := make(chan error, 2)
	go func() { errs <- sendSequence(p.a, p.relayedB, datagrams, 0) }()
	go func() { errs <- sendSequence(p.b, p.relayedA, datagrams, 0) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	gotB := receiveSequence(t, p.b, p.relayedA, datagrams, 5*time.Second)
	gotA := receiveSequence(t, p.a, p.relayedB, datagrams, 5*time.Second)
	t.Logf("%s: %d datagrams each way in %v; A got %d, B got %d", srv.name, datagrams, time.Since(start),
		gotA.received, gotB.received)
	for _, r := range []*runner{p.a, p.b} {
		s := r.stats()
		if s.ChannelDataSent != datagrams || s.ChannelDataReceived != datagrams {
			t.Errorf("%s: stats %+v: every datagram should travel as ChannelData", srv.name, s)
		}
		for reason, n := range s.Drops {
			if n != 0 {
				t.Errorf("%s: %d datagrams dropped as %v", srv.name, n, turn.DropReason(reason))
			}
		}
	}
}

// sendSequence sends n datagrams numbered from first, paced so that the
// loopback socket buffers never overflow.
func sendSequence(r *runner, peer netip.AddrPort, n int, interval time.Duration) error {
	payload := make([]byte, 200)
	for i := range n {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if err := r.send(peer, payload); err != nil {
			return err
		}
		switch {
		case interval > 0:
			time.Sleep(interval)
		case i%10 == 9:
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

type sequenceResult struct {
	received int
	maxGap   time.Duration
}

// receiveSequence collects n numbered datagrams from peer, in any order,
// each exactly once, and measures the longest silence between arrivals.
func receiveSequence(t *testing.T, r *runner, peer netip.AddrPort, n int, within time.Duration) sequenceResult {
	t.Helper()
	seen := make([]bool, n)
	var res sequenceResult
	var last time.Time
	timeout := time.After(within)
	for res.received < n {
		select {
		case in := <-r.data:
			if in.peer != peer || len(in.payload) != 200 {
				t.Fatalf("datagram from %v of %d bytes, want %v and 200", in.peer, len(in.payload), peer)
			}
			i := binary.BigEndian.Uint32(in.payload)
			if int(i) >= n || seen[i] {
				t.Fatalf("datagram %d duplicated or out of range", i)
			}
			seen[i] = true
			res.received++
			if !last.IsZero() {
				res.maxGap = max(res.maxGap, in.at.Sub(last))
			}
			last = in.at
		case <-timeout:
			t.Fatalf("received %d of %d datagrams within %v", res.received, n, within)
		}
	}
	return res
}
