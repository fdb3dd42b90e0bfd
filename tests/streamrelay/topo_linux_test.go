// Package streamrelay_test connects two peerlink Nodes, each in its own
// network namespace whose UDP to the outside nftables drops, through coturn
// in a third namespace (the internet) reached over TCP or TLS: TURN over
// streams (RFC 8656 section 3.1), the relayed leg UDP inside coturn.
package streamrelay_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// topo is the test network: namespaces a and b, each joined to inet by a
// veth pair; coturn listens on inet's own address serverIP, which a and b
// route to through their veth.
type topo struct {
	inet  string
	peers [2]peerNet
}

type peerNet struct {
	ns   string
	addr netip.Addr
}

var serverIP = netip.MustParseAddr("10.93.0.1")

func newTopo(t *testing.T) *topo {
	t.Helper()
	requireTools(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xFFFFFF)
	tp := &topo{inet: "plsr-" + tag + "-i"}
	addNS(t, tp.inet)
	run(t, "ip", "-n", tp.inet, "addr", "add", serverIP.String()+"/32", "dev", "lo")
	for i := range tp.peers {
		ns := fmt.Sprintf("plsr-%s-%c", tag, 'a'+i)
		addNS(t, ns)
		// Device names are limited to 15 bytes.
		dev, idev := fmt.Sprintf("sr%s%c", tag, 'a'+i), fmt.Sprintf("sr%s%ci", tag, 'a'+i)
		inner := netip.AddrFrom4([4]byte{10, 93, byte(i + 1), 1})
		outer := netip.AddrFrom4([4]byte{10, 93, byte(i + 1), 2})
		run(t, "ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", idev, "netns", tp.inet)
		run(t, "ip", "-n", tp.inet, "addr", "add", inner.String()+"/24", "dev", idev)
		run(t, "ip", "-n", tp.inet, "link", "set", idev, "up")
		run(t, "ip", "-n", ns, "addr", "add", outer.String()+"/24", "dev", dev)
		run(t, "ip", "-n", ns, "link", "set", dev, "up")
		run(t, "ip", "-n", ns, "route", "add", "default", "via", inner.String())
		tp.peers[i] = peerNet{ns: ns, addr: outer}
	}
	return tp
}

// blockUDP drops every UDP datagram between peer i's namespace and the
// internet, both ways, as a corporate firewall does: only TCP gets out.
func (tp *topo) blockUDP(t *testing.T, i int) {
	t.Helper()
	nft(t, tp.peers[i].ns, `table inet plsrblock {
	chain out { type filter hook output priority 0; oifname != "lo" meta l4proto udp counter drop; }
	chain in { type filter hook input priority 0; iifname != "lo" meta l4proto udp counter drop; }
}`)
}

// udpDropped returns the packets the block dropped in peer i's namespace.
func (tp *topo) udpDropped(t *testing.T, i int) string {
	out, err := exec.Command("ip", "netns", "exec", tp.peers[i].ns, "nft", "list", "table", "inet", "plsrblock").CombinedOutput()
	if err != nil {
		return err.Error()
	}
	var counters []string
	for _, l := range strings.Split(string(out), "\n") {
		if j := strings.Index(l, "counter"); j >= 0 {
			f := strings.Fields(l[j:])
			if len(f) >= 3 {
				counters = append(counters, f[2])
			}
		}
	}
	return "out=" + strings.Join(counters, " in=")
}

func addNS(t *testing.T, ns string) {
	t.Helper()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("removing namespace %s: %v\n%s", ns, err, out)
		}
	})
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
}

// requireTools skips (or under CI=true fails) without root, ip, nft or
// coturn; these tests are worth little when they silently pass.
func requireTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds namespaces and runs coturn; skipped with -short")
	}
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root"
	case !onPath("ip") || !onPath("nft"):
		missing = "ip and nft"
	case !onPath("turnserver"):
		missing = "coturn's turnserver"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s, and CI=true requires it", missing)
	}
	t.Skipf("this test needs %s; skipping", missing)
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

func nft(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s\n%s", err, out, ruleset)
	}
}
