package portable

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
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
)

var nsSeq atomic.Int32

// slowVeth makes two namespaces joined by a veth whose sending side is
// throttled by tbf: datagrams wait in the qdisc, still charged to the
// socket that sent them, as behind a slow uplink. It returns a socket in
// each namespace, sender first.
func slowVeth(t *testing.T, rate string) (tx, rx *net.UDPConn) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root")
	}
	for _, cmd := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("needs the %s command", cmd)
		}
	}
	id := fmt.Sprintf("pt%d-%d", os.Getpid(), nsSeq.Add(1))
	nsA, nsB, devA, devB := id+"a", id+"b", "pta"+id[2:], "ptb"+id[2:]
	for _, ns := range []string{nsA, nsB} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	sh(t, "ip", "link", "add", devA, "netns", nsA, "type", "veth", "peer", "name", devB, "netns", nsB)
	for _, s := range []struct{ ns, dev, addr string }{{nsA, devA, "10.78.0.1"}, {nsB, devB, "10.78.0.2"}} {
		sh(t, "ip", "-n", s.ns, "addr", "add", s.addr+"/24", "dev", s.dev)
		sh(t, "ip", "-n", s.ns, "link", "set", s.dev, "up")
	}
	sh(t, "tc", "-n", nsA, "qdisc", "add", "dev", devA, "root", "tbf", "rate", rate, "burst", "2kb", "limit", "4mb")
	return listenNS(t, nsA, "10.78.0.1:0"), listenNS(t, nsB, "10.78.0.2:0")
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// listenNS opens a UDP socket inside namespace ns from a thread that enters
// it and is never unlocked, so the runtime discards that thread.
func listenNS(t *testing.T, ns, addr string) *net.UDPConn {
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
		uc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		ch <- result{uc, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.uc.Close() })
	return r.uc
}

// sendAll enqueues n datagrams of size bytes to dst and sends them.
func sendAll(t *testing.T, c *Conn, dst netip.AddrPort, n, size int) {
	t.Helper()
	q := gso.New(gso.Config{Caps: c.Caps()})
	for i := range n {
		if err := q.Enqueue(netip.AddrPort{}, dst, payload(i, size), gso.Data, gso.NotECT); err != nil {
			t.Fatal(err)
		}
	}
	if k, err := c.Send(q.Peek(make([]*gso.Batch, 0, n))); k != n || err != nil {
		t.Errorf("Send = %d, %v; want %d", k, err, n)
	}
}

func TestUnsentBytesCountsDatagramsHeldBehindASlowLink(t *testing.T) {
	txSock, rxSock := slowVeth(t, "200kbit")
	tx := New(txSock)
	if n, err := tx.UnsentBytes(); n != 0 || err != nil {
		t.Fatalf("before sending: UnsentBytes = %d, %v", n, err)
	}

	// 24 KB take about a second at 200 kbit/s; the first two fit the
	// bucket's burst and leave at once.
	sendAll(t, tx, addrOf(rxSock), 20, 1200)
	n, err := tx.UnsentBytes()

	if err != nil || n < 15*1200 {
		t.Fatalf("after 20 datagrams of 1200 bytes: UnsentBytes = %d, %v; want the queued ones counted", n, err)
	}
	rxSock.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2000)
	for i := range 20 {
		if _, _, err := rxSock.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
}

// Where nothing counts unsent bytes, the send buffer is the bound: a
// sender faster than the link waits in Send, and the kernel never holds
// more than the buffer it granted. Linux shows it here too.
func TestASmallSendBufferBoundsTheKernelQueue(t *testing.T) {
	txSock, rxSock := slowVeth(t, "2mbit")
	// The receiver reads only at the end: its buffer must hold all 100
	// datagrams with the kernel's per-datagram overhead (about 2.3 KB
	// each), more than the usual 208 KiB default; 93 of 100 arrived once.
	if err := rxSock.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	tx, err := NewWithConfig(txSock, Config{SendBufferBytes: defaultConfig(false).SendBufferBytes})
	if err != nil {
		t.Fatal(err)
	}
	granted := tx.Bound().SendBufferGranted
	const count = 100 // 120 KB: about half a second at 2 Mbit/s
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendAll(t, tx, addrOf(rxSock), count, 1200)
	}()
	most := 0
	for sending := true; sending; {
		select {
		case <-done:
			sending = false
		default:
			n, err := tx.UnsentBytes()
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, n)
			runtime.Gosched()
		}
	}

	// Linux grants twice the request and charges each datagram's overhead
	// against it; a datagram is taken while the buffer is not yet full, so
	// the last one may cross it by its own size and overhead.
	if limit := 2*defaultConfig(false).SendBufferBytes + 2*1200; most == 0 || most > limit {
		t.Fatalf("kernel queue peaked at %d bytes with SO_SNDBUF %d granted; want at most %d", most, granted, limit)
	}
	t.Logf("SO_SNDBUF requested %d, granted %d; kernel queue peaked at %d bytes while sending %d KB",
		defaultConfig(false).SendBufferBytes, granted, most, count*1200/1000)
	rxSock.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2000)
	for i := range count {
		if _, _, err := rxSock.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
}
