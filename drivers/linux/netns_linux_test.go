package linux

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// vethPair is two network namespaces joined by a veth pair: A is 10.77.0.1
// on device DevA, B is 10.77.0.2 on DevB. Packets between them cross a real
// device, so the kernel's segmentation, MTU and queueing apply, unlike on
// loopback.
type vethPair struct {
	A, B       string
	DevA, DevB string
	AddrA      netip.Addr
	AddrB      netip.Addr
}

var netnsSeq atomic.Int32

// newVethPair builds the namespaces, or skips when the test cannot (not
// root, no ip command). Everything it creates is deleted at cleanup.
func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace tests need the ip command (iproute2)")
	}
	id := fmt.Sprintf("pl%d-%d", os.Getpid(), netnsSeq.Add(1))
	p := &vethPair{
		A: id + "a", B: id + "b", DevA: "pla" + id[2:], DevB: "plb" + id[2:],
		AddrA: netip.MustParseAddr("10.77.0.1"), AddrB: netip.MustParseAddr("10.77.0.2"),
	}
	for _, ns := range []string{p.A, p.B} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", p.DevA, "netns", p.A, "type", "veth", "peer", "name", p.DevB, "netns", p.B)
	for _, side := range []struct{ ns, dev, addr string }{
		{p.A, p.DevA, p.AddrA.String()}, {p.B, p.DevB, p.AddrB.String()},
	} {
		run(t, "ip", "-n", side.ns, "addr", "add", side.addr+"/24", "dev", side.dev)
		run(t, "ip", "-n", side.ns, "link", "set", side.dev, "up")
		run(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// listenIn opens a UDP socket inside namespace ns. A socket belongs to the
// namespace it was created in, so only the creating thread has to enter it;
// that thread is locked and never unlocked, so the runtime discards it
// instead of reusing a thread in the wrong namespace.
func listenIn(t *testing.T, ns string, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	type result struct {
		uc  *net.UDPConn
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		ch <- result{uc, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.uc.Close() })
	forceRecvBuffer(t, r.uc, 8<<20)
	return r.uc
}

func connIn(t *testing.T, ns string, addr netip.AddrPort, cfg Config) *Conn {
	t.Helper()
	c, err := New(listenIn(t, ns, addr), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
