package wgbind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/peerlink/peerlink/state/pump"
)

// The test network. Each host sits on its own LAN behind its own NAT; the
// NATs' WAN sides meet in the "internet" namespace, which routes between
// them and runs coturn on an address of its own.
//
//	hostA 10.202.1.2 -- 10.202.1.1 natA 10.201.1.2 -- 10.201.1.1 inet
//	hostB 10.202.2.2 -- 10.202.2.1 natB 10.201.2.2 -- 10.201.2.1 inet
//	coturn 10.201.0.1:3478 (inet's loopback device)
//
// Every namespace name carries the topology's random tag, so parallel
// runs never meet.
type topo struct {
	tag                            string
	inet, natA, natB, hostA, hostB string
	void                           string // where the internet's default route leads
	hostAddrA, hostAddrB           netip.Addr
	hostDevA, hostDevB             string // each host's uplink device
	turn                           netip.AddrPort
	turnUser, turnPass             string
	coturn                         *exec.Cmd
	coturnOut                      *lockedBuffer
}

const (
	turnUser = "wg"
	turnPass = "wgpass"
	turnPort = 3478
)

// requireTopo skips (or fails, under CI=true) when the machine cannot
// build the network: these tests are worth little when they silently pass.
func requireTopo(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the namespace tests take seconds; skipped with -short")
	}
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (network namespaces, TUN devices)"
	}
	for _, bin := range []string{"ip", "nft", "tc", "turnserver", "iperf3", "ping"} {
		if _, err := exec.LookPath(bin); err != nil && missing == "" {
			missing = "the " + bin + " command (apt packages iproute2, nftables, coturn, iperf3, iputils-ping)"
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil && missing == "" {
		missing = "/dev/net/tun"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s, and CI=true requires it", missing)
	}
	t.Skipf("this test needs %s; skipping", missing)
}

// newTopo builds the network. symmetric NATs pick a random port for every
// destination, so no server-reflexive candidate is any use to the peer
// and only the relay connects; cone NATs keep the port, so hole punching
// gives a direct path.
func newTopo(t *testing.T, symmetric bool) *topo {
	t.Helper()
	requireTopo(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()>>8)
	tp := &topo{tag: tag,
		inet: "wgb-" + tag + "-inet", natA: "wgb-" + tag + "-nata", natB: "wgb-" + tag + "-natb",
		hostA: "wgb-" + tag + "-a", hostB: "wgb-" + tag + "-b", void: "wgb-" + tag + "-void",
		hostAddrA: netip.MustParseAddr("10.202.1.2"), hostAddrB: netip.MustParseAddr("10.202.2.2"),
		hostDevA: "wa" + tag, hostDevB: "wb" + tag,
		turn: netip.MustParseAddrPort("10.201.0.1:" + strconv.Itoa(turnPort)),
	}
	for _, ns := range []string{tp.inet, tp.natA, tp.natB, tp.hostA, tp.hostB, tp.void} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	veth := func(ns1, dev1, addr1, ns2, dev2, addr2 string) {
		run(t, "ip", "link", "add", dev1, "netns", ns1, "type", "veth", "peer", "name", dev2, "netns", ns2)
		run(t, "ip", "-n", ns1, "addr", "add", addr1, "dev", dev1)
		run(t, "ip", "-n", ns2, "addr", "add", addr2, "dev", dev2)
		run(t, "ip", "-n", ns1, "link", "set", dev1, "up")
		run(t, "ip", "-n", ns2, "link", "set", dev2, "up")
	}
	veth(tp.inet, "ia"+tag, "10.201.1.1/24", tp.natA, "na"+tag, "10.201.1.2/24")
	veth(tp.inet, "ib"+tag, "10.201.2.1/24", tp.natB, "nb"+tag, "10.201.2.2/24")
	veth(tp.natA, "la"+tag, "10.202.1.1/24", tp.hostA, tp.hostDevA, tp.hostAddrA.String()+"/24")
	veth(tp.natB, "lb"+tag, "10.202.2.1/24", tp.hostB, tp.hostDevB, tp.hostAddrB.String()+"/24")
	run(t, "ip", "-n", tp.inet, "addr", "add", tp.turn.Addr().String()+"/32", "dev", "lo")
	// The internet has a default route, to a namespace that forwards
	// nothing: a datagram coturn relays to a peer's private host address
	// is lost there, as on the real internet. Without it the send fails
	// with ENETUNREACH, and coturn ends the whole allocation.
	veth(tp.inet, "iv"+tag, "10.201.9.1/24", tp.void, "vv"+tag, "10.201.9.2/24")
	run(t, "ip", "-n", tp.inet, "route", "add", "default", "via", "10.201.9.2")
	run(t, "ip", "netns", "exec", tp.inet, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", tp.hostA, "route", "add", "default", "via", "10.202.1.1")
	run(t, "ip", "-n", tp.hostB, "route", "add", "default", "via", "10.202.2.1")
	nat := func(ns, wan, gw string) {
		run(t, "ip", "-n", ns, "route", "add", "default", "via", gw)
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		masq := "masquerade"
		if symmetric {
			// A fresh random port for every flow: what a symmetric NAT
			// shows a peer is never what the STUN server saw.
			masq = "masquerade random,fully-random"
		}
		// An unsolicited datagram to the WAN address is dropped before
		// conntrack confirms it: a confirmed inbound entry would take the
		// port that the host's own outbound flow to the same peer needs,
		// and the NAT would map that flow to another port.
		rules := fmt.Sprintf(`table ip wgbnat {
	chain masq { type nat hook postrouting priority srcnat; oifname "%s" %s; }
	chain lanonly { type filter hook forward priority filter; policy drop;
		ct state established,related accept; iifname != "%s" accept; }
	chain wanin { type filter hook input priority filter;
		iifname "%s" ct state new drop; }
}`, wan, masq, wan, wan)
		cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in %s: %v\n%s", ns, err, out)
		}
	}
	nat(tp.natA, "na"+tag, "10.201.1.1")
	nat(tp.natB, "nb"+tag, "10.201.2.1")
	tp.startCoturn(t)
	return tp
}

// startCoturn runs coturn in the internet namespace with its own empty
// config, database and pid file, and waits until it answers.
func (tp *topo) startCoturn(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := tp.turn.Addr().String()
	tp.coturnOut = &lockedBuffer{}
	cmd := exec.Command("ip", "netns", "exec", tp.inet, "turnserver",
		"-c", conf, "-n", "--listening-ip="+a, "--relay-ip="+a,
		"--listening-port="+strconv.Itoa(turnPort), "--min-port=49152", "--max-port=49407",
		"--lt-cred-mech", "--user="+turnUser+":"+turnPass, "--realm=peerlink",
		"--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-cli", "--fingerprint",
		"--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--db="+filepath.Join(dir, "turndb"))
	cmd.Stdout, cmd.Stderr = tp.coturnOut, tp.coturnOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tp.coturn = cmd
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("coturn output:\n%s", tp.coturnOut.String())
		}
	})
	// Bound to its address once it answers a TCP-free probe: the
	// namespace's UDP port is taken.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "exec", tp.inet, "ss", "-Hlun", "sport", "= :"+strconv.Itoa(turnPort)).Output()
		if strings.Contains(string(out), a) {
			return
		}
	}
	t.Fatalf("coturn did not bind within 5 s:\n%s", tp.coturnOut.String())
}

// inNamespace runs fn on an OS thread inside namespace ns. The thread stays
// locked when the goroutine ends, so the runtime discards it rather than
// hand a thread in the wrong namespace to other goroutines; sockets and
// TUN devices stay in the namespace they were made in.
func inNamespace(t *testing.T, ns string, fn func() error) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("entering %s: %w", ns, err)
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// hostSide starts a side in host namespace ns, on addr, with coturn as its
// STUN server and relay.
func (tp *topo) hostSide(t *testing.T, ctx context.Context, name, ns string, addr netip.Addr, cfg Config) *side {
	t.Helper()
	var uc *net.UDPConn
	inNamespace(t, ns, func() (err error) {
		uc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: addr.AsSlice()})
		return err
	})
	cfg.Driver.Node.StunServers = []netip.AddrPort{tp.turn}
	s := newSide(t, ctx, name, uc, cfg)
	err := s.d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		return p.Node().AddRelay(now, tp.turn, s.addr, turnUser, turnPass)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tunDevice creates a TUN device inside ns with address addr/24, up.
func tunDevice(t *testing.T, ns, name string, addr netip.Addr, mtu int) *nsTUN {
	t.Helper()
	var td tun.Device
	inNamespace(t, ns, func() (err error) {
		td, err = tun.CreateTUN(name, mtu)
		return err
	})
	run(t, "ip", "-n", ns, "addr", "add", addr.String()+"/24", "dev", name)
	run(t, "ip", "-n", ns, "link", "set", name, "up")
	n := &nsTUN{Device: td, ns: ns, name: name}
	n.mtu.Store(int64(mtu))
	return n
}

// nsTUN reports the MTU the test set: wireguard-go reads a TUN's MTU with
// an ioctl on a socket of the calling thread's namespace, which is not
// the device's.
type nsTUN struct {
	tun.Device
	ns, name string
	mtu      atomic.Int64
}

func (n *nsTUN) MTU() (int, error) { return int(n.mtu.Load()), nil }

// setMTU changes the device's MTU; wireguard-go learns it from the link
// event.
func (n *nsTUN) setMTU(t *testing.T, mtu int) {
	t.Helper()
	n.mtu.Store(int64(mtu))
	run(t, "ip", "-n", n.ns, "link", "set", n.name, "mtu", strconv.Itoa(mtu))
}

// startRealDevice is startDevice with a logger that counts handshake
// retries (each is a handshake message, or its answer, that did not arrive
// within wireguard-go's 5 s) and send errors, logging the first of each
// kind; wireguard-go's MTU warnings about the TUN (see nsTUN) are noise.
func (s *side) startRealDevice(t *testing.T, td tun.Device, peer *side, allowed string, retries, sendErrs *atomic.Int64) {
	t.Helper()
	var other atomic.Int64
	logf := func(format string, args ...any) {
		var first bool
		switch {
		case strings.Contains(format, "did not complete"):
			first = retries.Add(1) == 1
		case strings.Contains(format, "Failed to send"):
			first = sendErrs.Add(1) == 1
		case strings.Contains(format, "MTU"):
		default:
			first = other.Load() > 0 && other.Load() <= 10
		}
		if first {
			t.Logf("%s: "+format, append([]any{s.name}, args...)...)
		}
	}
	errorf := func(format string, args ...any) {
		if !strings.Contains(format, "Failed to send") && !strings.Contains(format, "MTU") {
			other.Add(1)
		}
		logf(format, args...)
	}
	s.dev = device.NewDevice(td, s.bind, &device.Logger{Verbosef: logf, Errorf: errorf})
	s.configure(t, peer, allowed)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// lockedBuffer collects a child's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
