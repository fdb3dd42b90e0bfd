//go:build linux

package netns

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// link is two network namespaces, Tx and Rx, joined by a veth pair. Traffic
// between TxAddr and RxAddr crosses a real device and its qdisc, so the
// kernel queues it the way it would on a slow uplink; loopback has no
// qdisc worth the name.
type link struct {
	Tx, Rx         string // namespace names
	TxDev, RxDev   string // device names, each inside its namespace
	TxAddr, RxAddr netip.Addr
}

// requireNetns skips (or, under CI=true, fails) when the machine cannot
// build namespaces: these tests are worth little when they silently pass.
func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace measurements take seconds; skipped with -short")
	}
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root (to create network namespaces)"
	case !onPath("ip"):
		missing = "the ip command (iproute2)"
	case !onPath("tc"):
		missing = "the tc command (iproute2)"
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

// newLink builds the namespaces and the veth pair. The names carry a random
// tag so that parallel runs, of this package or of others building their
// own namespaces, never collide; everything is deleted at cleanup, and
// deleting a namespace deletes the veth end inside it (and so its peer).
func newLink(t *testing.T) *link {
	t.Helper()
	requireNetns(t)
	tag := fmt.Sprintf("%08x", rand.Uint32())
	l := &link{
		Tx: "plnetns-" + tag + "-tx", Rx: "plnetns-" + tag + "-rx",
		// Device names are limited to 15 bytes.
		TxDev: "pt" + tag, RxDev: "pr" + tag,
		TxAddr: netip.MustParseAddr("10.78.0.1"), RxAddr: netip.MustParseAddr("10.78.0.2"),
	}
	for _, ns := range []string{l.Tx, l.Rx} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("removing namespace %s: %v\n%s", ns, err, out)
			}
		})
	}
	mustRun(t, "ip", "link", "add", l.TxDev, "netns", l.Tx, "type", "veth", "peer", "name", l.RxDev, "netns", l.Rx)
	for _, side := range []struct {
		ns, dev string
		addr    netip.Addr
	}{{l.Tx, l.TxDev, l.TxAddr}, {l.Rx, l.RxDev, l.RxAddr}} {
		mustRun(t, "ip", "-n", side.ns, "addr", "add", side.addr.String()+"/24", "dev", side.dev)
		mustRun(t, "ip", "-n", side.ns, "link", "set", side.dev, "up")
	}
	return l
}

// limitTx puts a token bucket on the sender's egress. Its limit is far
// above any socket send buffer, so the qdisc never drops: a datagram waiting
// in it stays charged to the sending socket and the socket blocks instead,
// which is what makes the backlog visible to SIOCOUTQ.
func (l *link) limitTx(t *testing.T, rate string) {
	t.Helper()
	mustRun(t, "tc", "-n", l.Tx, "qdisc", "add", "dev", l.TxDev, "root", "tbf",
		"rate", rate, "burst", "32kbit", "limit", "16mb")
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	// A kernel without network namespaces, veth or the tbf qdisc is a
	// missing prerequisite, not a failure of what is measured.
	if os.Getenv("CI") != "true" && unsupported(string(out)) {
		t.Skip("the kernel cannot build the test network: " + msg)
	}
	t.Fatal(msg)
}

func unsupported(out string) bool {
	for _, s := range []string{"Operation not supported", "Unknown device type", "Specified qdisc", "Operation not permitted"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// listenUDP opens a UDP socket inside namespace ns. A socket stays in the
// namespace it was created in whatever thread later uses it, so only the
// creating thread has to enter the namespace. That thread stays locked when
// its goroutine ends, which makes the runtime discard it rather than hand a
// thread in the wrong namespace to other goroutines.
func listenUDP(t *testing.T, ns string, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	type result struct {
		uc  *net.UDPConn
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering namespace: %w", err)}
			return
		}
		uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		done <- result{uc, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listen in %s on %v: %v", ns, addr, r.err)
	}
	t.Cleanup(func() { r.uc.Close() })
	return r.uc
}

// forceBuffer sets a socket buffer size past the sysctl maximum (root only),
// so that the measurement does not depend on the machine's net.core limits.
func forceBuffer(t *testing.T, uc *net.UDPConn, opt, n int) {
	t.Helper()
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, n) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("setsockopt %d = %d: %v", opt, n, serr)
	}
}
