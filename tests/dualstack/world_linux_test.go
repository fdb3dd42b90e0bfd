//go:build linux

package dualstack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// world is three namespaces: the relay's, R, with a link to the
// dual-stack peer's, A (10.61.1.0/24 and fd00:61:1::/64), and one to the
// IPv6-only peer's, B (fd00:61:2::/64). R forwards nothing: A and B reach
// R's own addresses (each other's relayed addresses among them) and no
// further.
type world struct {
	R, A, B string
	// RA4, RA6: R's addresses toward A; RB6 toward B.
	RA4, RA6, RB6 netip.Addr
	A4, A6, B6    netip.Addr
}

func newWorld(t *testing.T) *world {
	t.Helper()
	requireNetns(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	w := &world{R: "pl6-" + tag + "-r", A: "pl6-" + tag + "-a", B: "pl6-" + tag + "-b",
		RA4: netip.MustParseAddr("10.61.1.1"), A4: netip.MustParseAddr("10.61.1.2"),
		RA6: netip.MustParseAddr("fd00:61:1::1"), A6: netip.MustParseAddr("fd00:61:1::2"),
		RB6: netip.MustParseAddr("fd00:61:2::1"), B6: netip.MustParseAddr("fd00:61:2::2")}
	for _, ns := range []string{w.R, w.A, w.B} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// Device names are limited to 15 bytes.
	ra, ar, rb, br := "v6ra"+tag, "v6ar"+tag, "v6rb"+tag, "v6br"+tag
	run(t, "ip", "link", "add", ra, "netns", w.R, "type", "veth", "peer", "name", ar, "netns", w.A)
	run(t, "ip", "link", "add", rb, "netns", w.R, "type", "veth", "peer", "name", br, "netns", w.B)
	addr := func(ns, dev string, a netip.Addr) {
		bits := 24
		if a.Is6() {
			bits = 64
		}
		// nodad: the address is usable at once, not tentative for the
		// duplicate address detection's second or two.
		args := []string{"-n", ns, "addr", "add", fmt.Sprintf("%v/%d", a, bits), "dev", dev}
		if a.Is6() {
			args = append(args, "nodad")
		}
		run(t, "ip", args...)
	}
	addr(w.R, ra, w.RA4)
	addr(w.R, ra, w.RA6)
	addr(w.R, rb, w.RB6)
	addr(w.A, ar, w.A4)
	addr(w.A, ar, w.A6)
	addr(w.B, br, w.B6)
	for _, d := range [][2]string{{w.R, ra}, {w.R, rb}, {w.A, ar}, {w.B, br}} {
		run(t, "ip", "-n", d[0], "link", "set", d[1], "up")
	}
	run(t, "ip", "-n", w.A, "route", "add", "default", "via", w.RA4.String())
	run(t, "ip", "-n", w.A, "-6", "route", "add", "default", "via", w.RA6.String())
	run(t, "ip", "-n", w.B, "-6", "route", "add", "default", "via", w.RB6.String())
	return w
}

func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace tests take seconds; skipped with -short")
	}
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (to create network namespaces)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		missing = "the ip command (iproute2)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s, and CI=true requires it", missing)
	}
	t.Skipf("this test needs %s; skipping", missing)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	if os.Getenv("CI") != "true" && strings.Contains(string(out), "Operation not supported") {
		t.Skip("the kernel cannot build the test network: " + msg)
	}
	t.Fatal(msg)
}
