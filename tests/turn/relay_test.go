package turn_test

import (
	"encoding/binary"
	"github.com/peerlink/peerlink/tests/internal/realturn"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
)

const datagrams = 1000

// The scenarios, each run against both servers.

func TestPionTwoClientsMoveAThousandDatagramsEachWayThroughTheRelay(t *testing.T) {
	twoClientsExchange(t, realturn.Pion(t, realturn.PionConfig{}), nil)
}

func TestCoturnTwoClientsMoveAThousandDatagramsEachWayThroughTheRelay(t *testing.T) {
	twoClientsExchange(t, realturn.Coturn(t, coturnConfig()), nil)
}

func TestPionAllocationPermissionAndChannelSurviveThreeRefreshCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for several seconds; skipped with -short")
	}
	surviveRefreshes(t, realturn.Pion(t, realturn.PionConfig{ChannelLifetime: shortLifetime}))
}

func TestCoturnAllocationPermissionAndChannelSurviveThreeRefreshCyclesAndAStaleNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for several seconds; skipped with -short")
	}
	secs := strconv.Itoa(int(shortLifetime / time.Second))
	cfg := coturnConfig()
	cfg.Extra = []string{"--max-allocate-lifetime=" + secs, "--channel-lifetime=" + secs, "--permission-lifetime=" + secs}
	surviveRefreshes(t, realturn.Coturn(t, cfg))
}

func TestPionWrongPasswordIsAnAuthenticationErrorAfterOneSignedAttempt(t *testing.T) {
	wrongPassword(t, realturn.Pion(t, realturn.PionConfig{}))
}

func TestCoturnWrongPasswordIsAnAuthenticationErrorAfterOneSignedAttempt(t *testing.T) {
	wrongPassword(t, realturn.Coturn(t, coturnConfig()))
}

func TestPionStoppedServerIsReportedLostWithinTheConfiguredBound(t *testing.T) {
	serverKilled(t, realturn.Pion(t, realturn.PionConfig{}))
}

func TestCoturnKilledServerIsReportedLostWithinTheConfiguredBound(t *testing.T) {
	serverKilled(t, realturn.Coturn(t, coturnConfig()))
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

func allocatePair(t *testing.T, srv *realturn.Server, tweak func(*turn.Config)) *pair {
	t.Helper()
	cfg := testConfig(srv.Addr, realturn.User, realturn.Password)
	if tweak != nil {
		tweak(&cfg.cfg)
	}
	start := time.Now()
	p := &pair{a: startRunner(t, cfg), b: startRunner(t, cfg)}
	ea := p.a.waitEvent(turn.EventAllocated, 5*time.Second)
	eb := p.b.waitEvent(turn.EventAllocated, 5*time.Second)
	p.allocatedAfter = time.Since(start)
	p.relayedA, p.relayedB, p.lifetimeA, p.lifetimeB = ea.Relayed, eb.Relayed, ea.Lifetime, eb.Lifetime
	t.Logf("%s: relayed %v and %v (lifetime %v), reflexive %v, allocated after %v",
		srv.Name, p.relayedA, p.relayedB, p.lifetimeA, ea.Reflexive, p.allocatedAfter)
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

func twoClientsExchange(t *testing.T, srv *realturn.Server, tweak func(*turn.Config)) {
	p := allocatePair(t, srv, tweak)
	start := time.Now()
	errs := make(chan error, 2)
	go func() { errs <- sendWindows(p.a, p.relayedB, datagrams, p.b) }()
	go func() { errs <- sendWindows(p.b, p.relayedA, datagrams, p.a) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	gotB := receiveSequence(t, p.b, p.relayedA, datagrams, 5*time.Second)
	gotA := receiveSequence(t, p.a, p.relayedB, datagrams, 5*time.Second)
	t.Logf("%s: %d datagrams each way in %v; A got %d, B got %d", srv.Name, datagrams, time.Since(start),
		gotA.received, gotB.received)
	for _, r := range []*runner{p.a, p.b} {
		s := r.stats()
		if s.ChannelDataSent != datagrams || s.ChannelDataReceived != datagrams {
			t.Errorf("%s: stats %+v: every datagram should travel as ChannelData", srv.Name, s)
		}
		for reason, n := range s.Drops {
			if n != 0 {
				t.Errorf("%s: %d datagrams dropped as %v", srv.Name, n, turn.DropReason(reason))
			}
		}
	}
}

// sendSequence sends n numbered datagrams to peer, one every interval.
func sendSequence(r *runner, peer netip.AddrPort, n int, interval time.Duration) error {
	payload := make([]byte, 200)
	for i := range n {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if err := r.send(peer, payload); err != nil {
			return err
		}
		time.Sleep(interval)
	}
	return nil
}

// sendWindows sends n numbered datagrams to peer in windows of 50, each
// sent once the one before has reached to (whose data nobody reads
// meanwhile). The relay is another process and UDP has no flow control:
// paced by time alone, coturn's socket buffers overflowed whenever the
// machine left it unscheduled long enough (262 of 1000 arrived once, on a
// loaded machine). A window fits any socket buffer, so nothing can
// overflow, and a datagram lost in one still shows as missing.
func sendWindows(r *runner, peer netip.AddrPort, n int, to *runner) error {
	payload := make([]byte, 200)
	for i := range n {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if err := r.send(peer, payload); err != nil {
			return err
		}
		if (i+1)%50 == 0 {
			for end := time.Now().Add(5 * time.Second); len(to.data) < i+1 && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
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
