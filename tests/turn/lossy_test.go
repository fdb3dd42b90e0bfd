//go:build linux

package turn_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// A lossy path toward the client, against real servers in their own
// network namespace: nftables drops 90% of the server's answers to Refresh
// (numgen) as they arrive (dropped on output, the kernel would fail the
// server's send), so more than half of the Refreshes lose all five of their
// answers. The server still refreshed the allocation; only the answers
// were lost. The client must not take that silence for a lost
// allocation: its probe (an Allocate) meets 437, and the allocation is
// kept. Lifetimes of 4 s make a Refresh every 2 s.
func TestCoturnRefreshAnswersLostOnTheWayKeepTheAllocation(t *testing.T) {
	ns := lossyNamespace(t)
	t.Parallel()
	// coturn raises a requested lifetime below its default: cap it instead.
	refreshAnswersLost(t, ns, realturn.Coturn(t, realturn.CoturnConfig{Netns: ns, Extra: []string{"--max-allocate-lifetime=4"}}), 0)
}

// pion/turn answers no Refresh for an allocation it lost, so its silence
// looks like loss even more: the probe tells them apart here too.
func TestPionRefreshAnswersLostOnTheWayKeepTheAllocation(t *testing.T) {
	ns := lossyNamespace(t)
	t.Parallel()
	refreshAnswersLost(t, ns, realturn.Pion(t, realturn.PionConfig{Netns: ns}), 4*time.Second)
}

// refreshAnswersLost runs the client against srv for 25 s, asking for
// lifetime (0: the default) and losing 90% of the Refresh answers.
func refreshAnswersLost(t *testing.T, ns string, srv *realturn.Server, lifetime time.Duration) {
	nft(t, ns, fmt.Sprintf(`table inet plloss {
	chain in {
		type filter hook input priority 0; policy accept;
		udp sport %d @th,64,16 { 0x0104, 0x0114 } numgen random mod 10 < 9 counter drop
	}
}`, srv.Addr.Port()))
	conn, err := realturn.ListenUDPIn(ns, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv.Addr, realturn.User, realturn.Password)
	cfg.cfg.Lifetime = lifetime
	r := startRunnerOn(t, cfg, conn)
	first := r.waitEvent(turn.EventAllocated, 5*time.Second)
	time.Sleep(25 * time.Second)
	s := r.stats()
	relayed, ok := func() (netip.AddrPort, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.c.Relayed()
	}()
	t.Logf("%s, 90%% of Refresh answers lost: %d refreshes answered, %d probes (%d met 437), %d re-allocations; nft: %s",
		srv.Name, s.Refreshes, s.Probes, s.ProbesHeld, s.Reallocations, nftCounter(t, ns))
	if s.ProbesHeld == 0 && s.Reallocations == 0 {
		t.Errorf("no Refresh lost all its answers: the test tested nothing")
	}
	if s.Reallocations != 0 || !ok || relayed != first.Relayed {
		t.Errorf("allocation replaced (%d re-allocations, now %v %v, was %v): loss taken for a lost allocation",
			s.Reallocations, relayed, ok, first.Relayed)
	}
}

// lossyNamespace makes a network namespace with loopback up, deleted at
// cleanup; it skips without root, ip or nft (fails under CI=true).
func lossyNamespace(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("streams for 25 s; skipped with -short")
	}
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root"
	case !onPath("ip") || !onPath("nft"):
		missing = "ip and nft"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("this test needs %s, and CI=true requires it", missing)
		}
		t.Skipf("this test needs %s; skipping", missing)
	}
	ns := fmt.Sprintf("plturn-%08x", rand.Uint32())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("removing namespace %s: %v\n%s", ns, err, out)
		}
	})
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

func onPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// nft loads ruleset into namespace ns.
func nft(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s\n%s", err, out, ruleset)
	}
}

// nftCounter returns the drop rule's counter, for the log.
func nftCounter(t *testing.T, ns string) string {
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "chain", "inet", "plloss", "in").CombinedOutput()
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "counter"); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return "?"
}
