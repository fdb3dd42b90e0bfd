//go:build linux

package netns

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
)

// natNet is three namespaces: alice on a public network, bob on a private
// one, and between them a Linux NAT (nftables masquerade with random
// ports, as carrier-grade NATs allocate them) whose conntrack table holds
// bob's mappings.
type natNet struct {
	Alice, NAT, Bob string
	AliceAddr       netip.Addr // alice's, public
	Outside         netip.Addr // the NAT's public address
	BobAddr         netip.Addr // bob's, private
	outDev          string     // the NAT's public device
	bobDev          string     // bob's first uplink, inside his namespace
	tag             string
}

func newNATNet(t *testing.T) *natNet {
	t.Helper()
	requireNetns(t)
	if !onPath("nft") {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs nft (nftables), and CI=true requires it")
		}
		t.Skip("this test needs nft (nftables); skipping")
	}
	tag := fmt.Sprintf("%06x", rand.Uint32()>>8)
	n := &natNet{
		Alice: "plroam-" + tag + "-a", NAT: "plroam-" + tag + "-n", Bob: "plroam-" + tag + "-b",
		AliceAddr: netip.MustParseAddr("10.79.0.1"), Outside: netip.MustParseAddr("10.79.0.2"),
		BobAddr: netip.MustParseAddr("192.168.79.2"), outDev: "ro" + tag,
	}
	for _, ns := range []string{n.Alice, n.NAT, n.Bob} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("removing namespace %s: %v\n%s", ns, err, out)
			}
		})
	}
	aDev, inDev, bDev := "ra"+tag, "ri"+tag, "rb"+tag
	n.bobDev, n.tag = bDev, tag
	mustRun(t, "ip", "link", "add", aDev, "netns", n.Alice, "type", "veth", "peer", "name", n.outDev, "netns", n.NAT)
	mustRun(t, "ip", "link", "add", inDev, "netns", n.NAT, "type", "veth", "peer", "name", bDev, "netns", n.Bob)
	for _, s := range []struct{ ns, dev, cidr string }{
		{n.Alice, aDev, "10.79.0.1/24"}, {n.NAT, n.outDev, "10.79.0.2/24"},
		{n.NAT, inDev, "192.168.79.1/24"}, {n.Bob, bDev, "192.168.79.2/24"},
	} {
		mustRun(t, "ip", "-n", s.ns, "addr", "add", s.cidr, "dev", s.dev)
		mustRun(t, "ip", "-n", s.ns, "link", "set", s.dev, "up")
	}
	mustRun(t, "ip", "-n", n.Bob, "route", "add", "default", "via", "192.168.79.1")
	mustRun(t, "ip", "netns", "exec", n.NAT, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	mustRun(t, "ip", "netns", "exec", n.NAT, "nft",
		"add table ip nat; "+
			"add chain ip nat post { type nat hook postrouting priority srcnat; }; "+
			"add rule ip nat post oifname "+n.outDev+" masquerade random")
	return n
}

// flushConntrack deletes every conntrack entry in the NAT's namespace, as
// `conntrack -F` does, over ctnetlink: the NAT forgets bob's mappings and
// his next packets leave from new random ports. Done here rather than with
// the conntrack tool so that the test needs no package beyond iproute2 and
// nftables.
func (n *natNet) flushConntrack(t *testing.T) {
	t.Helper()
	if err := inNamespace(n.NAT, flushCT); err != nil {
		t.Fatalf("flushing conntrack in %s: %v", n.NAT, err)
	}
}

// renumber moves the NAT's public side to a new address (an uplink that
// failed over to another ISP) and flushes its mappings, which named the
// old one.
func (n *natNet) renumber(t *testing.T, to netip.Addr) {
	t.Helper()
	// Deleting first: deleting a primary address deletes the secondaries
	// of its subnet with it.
	mustRun(t, "ip", "-n", n.NAT, "addr", "del", n.Outside.String()+"/24", "dev", n.outDev)
	mustRun(t, "ip", "-n", n.NAT, "addr", "add", to.String()+"/24", "dev", n.outDev)
	n.Outside = to
	n.flushConntrack(t)
}

// secondUplink gives bob a second link into the NAT, on another private
// network (192.168.80.0/24), with a default route that takes over when the
// first link goes down; it returns bob's address there.
func (n *natNet) secondUplink(t *testing.T) netip.Addr {
	t.Helper()
	inDev, bDev := "rj"+n.tag, "rc"+n.tag
	mustRun(t, "ip", "link", "add", inDev, "netns", n.NAT, "type", "veth", "peer", "name", bDev, "netns", n.Bob)
	mustRun(t, "ip", "-n", n.NAT, "addr", "add", "192.168.80.1/24", "dev", inDev)
	mustRun(t, "ip", "-n", n.Bob, "addr", "add", "192.168.80.2/24", "dev", bDev)
	mustRun(t, "ip", "-n", n.NAT, "link", "set", inDev, "up")
	mustRun(t, "ip", "-n", n.Bob, "link", "set", bDev, "up")
	mustRun(t, "ip", "-n", n.Bob, "route", "add", "default", "via", "192.168.80.1", "metric", "200")
	return netip.MustParseAddr("192.168.80.2")
}

// firstUplinkDown takes bob's first link down: its address and route are
// gone, as when a laptop leaves the Wi-Fi.
func (n *natNet) firstUplinkDown(t *testing.T) {
	t.Helper()
	mustRun(t, "ip", "-n", n.Bob, "link", "set", n.bobDev, "down")
}

// ipctnlMsgCtDelete is IPCTNL_MSG_CT_DELETE (linux/netfilter/nfnetlink_conntrack.h):
// with no attributes it deletes every entry of the family.
const ipctnlMsgCtDelete = 2

func flushCT() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	msg := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], unix.NFNL_SUBSYS_CTNETLINK<<8|ipctnlMsgCtDelete)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], 1)
	msg[16], msg[17] = unix.AF_INET, unix.NFNETLINK_V0 // nfgenmsg; res_id 0
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	m, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if m < unix.NLMSG_HDRLEN+4 || binary.NativeEndian.Uint16(buf[4:6]) != unix.NLMSG_ERROR {
		return fmt.Errorf("unexpected netlink answer of %d bytes", m)
	}
	if code := int32(binary.NativeEndian.Uint32(buf[16:20])); code != 0 {
		return fmt.Errorf("ctnetlink: %w", unix.Errno(-code))
	}
	return nil
}

// inNamespace runs fn on a thread inside namespace ns. The thread stays
// locked when its goroutine ends, so the runtime discards it.
func inNamespace(ns string, fn func() error) error {
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
			done <- fmt.Errorf("entering namespace: %w", err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// roamPeer is one side's Driver with what the test watches.
type roamPeer struct {
	d    *drivers.Driver
	addr netip.AddrPort
	mu   sync.Mutex
	got  []time.Time // arrivals of application data
	evs  chan node.Event
}

func startRoamPeer(t *testing.T, ctx context.Context, ns string, addr netip.Addr) (*roamPeer, chan error) {
	t.Helper()
	uc := listenUDP(t, ns, netip.AddrPortFrom(addr, 0))
	c, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &roamPeer{addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(), evs: make(chan node.Event, 1024)}
	p.d, err = drivers.New(c, drivers.Config{
		OnEvent: func(e node.Event) { p.evs <- e },
		OnData: func(node.ConnID, []byte) {
			p.mu.Lock()
			p.got = append(p.got, time.Now())
			p.mu.Unlock()
		},
		Logger: logcheck.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.d.Run(ctx) }()
	if err := p.d.AddLocalAddress(ctx, p.addr); err != nil {
		t.Fatal(err)
	}
	return p, done
}

// longestGap is the longest time after since with no application data.
func (p *roamPeer) longestGap(since, until time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, longest := since, time.Duration(0)
	for _, at := range p.got {
		if at.After(since) {
			longest = max(longest, at.Sub(last))
			last = at
		}
	}
	return max(longest, until.Sub(last))
}

// signalling forwards candidates and withdrawals between the peers and
// collects the state events, until ctx ends.
func signalling(ctx context.Context, a, b *roamPeer, changes chan<- string) {
	forward := func(e node.Event, other *roamPeer, name string) {
		switch e := e.(type) {
		case node.CandidateGathered:
			_ = other.d.AddRemoteCandidate(ctx, 1, e.Candidate)
		case node.CandidateWithdrawn:
			_ = other.d.RemoveRemoteCandidate(ctx, 1, e.Candidate.Addr)
		case node.Connected, node.PathChanged, node.Failed:
			select {
			case changes <- name + " " + e.String():
			default:
			}
		}
	}
	for {
		select {
		case e := <-a.evs:
			forward(e, b, "alice")
		case e := <-b.evs:
			forward(e, a, "bob")
		case <-ctx.Done():
			return
		}
	}
}

// Bob sits behind a Linux NAT and both send a datagram every 10 ms. The
// NAT then forgets his mappings (conntrack flushed: a rebinding), or its
// uplink fails over to another address as well. Nobody tells either
// program. The connection must follow bob to his new external port
// without a Failed, and the longest gap in either side's delivery must
// stay under one probe interval plus ProbeLossAfter (the probe timeout,
// 15 s, is what it cost before: the connection failed).
func TestTheConnectionFollowsANATThatRebindsOrRenumbers(t *testing.T) {
	for _, renumber := range []bool{false, true} {
		name := "conntrack-flush"
		if renumber {
			name = "uplink-failover"
		}
		t.Run(name, func(t *testing.T) {
			n := newNATNet(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			alice, aDone := startRoamPeer(t, ctx, n.Alice, n.AliceAddr)
			bob, bDone := startRoamPeer(t, ctx, n.Bob, n.BobAddr)
			ca := node.Credentials{Ufrag: "aaaaaaaa", Pwd: "aaaaaaaaaaaaaaaaaaaaaaaa"}
			cb := node.Credentials{Ufrag: "bbbbbbbb", Pwd: "bbbbbbbbbbbbbbbbbbbbbbbb"}
			if _, err := alice.d.Connect(ctx, 1, node.Controlling, ca, cb); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.d.Connect(ctx, 1, node.Controlled, cb, ca); err != nil {
				t.Fatal(err)
			}
			changes := make(chan string, 256)
			go signalling(ctx, alice, bob, changes)
			stop := make(chan struct{})
			var senders sync.WaitGroup
			for _, p := range []*roamPeer{alice, bob} {
				senders.Add(1)
				go func() {
					defer senders.Done()
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							_ = p.d.Send(ctx, 1, []byte("tick"))
						}
					}
				}()
			}
			time.Sleep(3 * time.Second) // connected, data flowing
			change := time.Now()
			if renumber {
				n.renumber(t, netip.MustParseAddr("10.79.0.3"))
			} else {
				n.flushConntrack(t)
			}
			time.Sleep(5 * time.Second)
			end := time.Now()
			close(stop)
			senders.Wait()
			cfg := ice.DefaultConfig()
			bound := cfg.ProbeInterval + cfg.ProbeLossAfter
			var log []string
			for more := true; more; {
				select {
				case c := <-changes:
					log = append(log, c)
				default:
					more = false
				}
			}
			t.Logf("state changes: %v", log)
			for _, l := range log {
				if bytes.Contains([]byte(l), []byte("failed")) {
					t.Errorf("%s", l)
				}
			}
			for _, p := range []struct {
				name string
				p    *roamPeer
			}{{"alice", alice}, {"bob", bob}} {
				g := p.p.longestGap(change, end)
				t.Logf("%s: longest gap in delivery after the change %v", p.name, g.Round(time.Millisecond))
				if g > bound {
					t.Errorf("%s: longest gap %v, want at most %v; state changes %v", p.name, g, bound, log)
				}
			}
			cancel()
			for _, done := range []chan error{aDone, bDone} {
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
		})
	}
}

// Bob has a second uplink (a second network into the NAT), and his first
// goes down during the transfer: his program binds a socket on the second
// and hands it to its Driver with Rebind, which moves the connection
// there. No Failed, and the longest gap in either side's delivery stays
// under one probe interval plus two round trips (a few milliseconds here;
// 100 ms of slack for a loaded machine).
func TestAPeerWhoseUplinkGoesDownRebindsOntoItsSecond(t *testing.T) {
	n := newNATNet(t)
	second := n.secondUplink(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice, aDone := startRoamPeer(t, ctx, n.Alice, n.AliceAddr)
	bob, bDone := startRoamPeer(t, ctx, n.Bob, n.BobAddr)
	ca := node.Credentials{Ufrag: "aaaaaaaa", Pwd: "aaaaaaaaaaaaaaaaaaaaaaaa"}
	cb := node.Credentials{Ufrag: "bbbbbbbb", Pwd: "bbbbbbbbbbbbbbbbbbbbbbbb"}
	if _, err := alice.d.Connect(ctx, 1, node.Controlling, ca, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.d.Connect(ctx, 1, node.Controlled, cb, ca); err != nil {
		t.Fatal(err)
	}
	changes := make(chan string, 256)
	go signalling(ctx, alice, bob, changes)
	stop := make(chan struct{})
	var senders sync.WaitGroup
	for _, p := range []*roamPeer{alice, bob} {
		senders.Add(1)
		go func() {
			defer senders.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					_ = p.d.Send(ctx, 1, []byte("tick"))
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	change := time.Now()
	n.firstUplinkDown(t)
	uc := listenUDP(t, n.Bob, netip.AddrPortFrom(second, 0))
	c, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	moved := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := bob.d.Rebind(ctx, c, drivers.AddressMove{From: bob.addr, To: moved}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	end := time.Now()
	close(stop)
	senders.Wait()
	var log []string
	for more := true; more; {
		select {
		case c := <-changes:
			log = append(log, c)
		default:
			more = false
		}
	}
	t.Logf("state changes: %v", log)
	for _, l := range log {
		if bytes.Contains([]byte(l), []byte("failed")) {
			t.Errorf("%s", l)
		}
	}
	bound := ice.DefaultConfig().ProbeInterval + 100*time.Millisecond
	for _, p := range []struct {
		name string
		p    *roamPeer
	}{{"alice", alice}, {"bob", bob}} {
		g := p.p.longestGap(change, end)
		t.Logf("%s: longest gap in delivery after the change %v", p.name, g.Round(time.Millisecond))
		if g > bound {
			t.Errorf("%s: longest gap %v, want at most %v", p.name, g, bound)
		}
	}
	s, err := bob.d.ConnStats(ctx, 1)
	if err != nil || s.Path.Src() != moved {
		t.Errorf("bob's path %v (%v), want it from %v", s.Path, err, moved)
	}
	cancel()
	for _, done := range []chan error{aDone, bDone} {
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}
