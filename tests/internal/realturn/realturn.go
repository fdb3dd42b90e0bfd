// Package realturn starts real TURN servers on loopback for the tests: pion/turn
// in-process, and coturn's turnserver (Debian package coturn) as a child
// process. Both use one user, password and realm.
package realturn

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// The long-term credentials every server accepts.
const (
	User     = "u"
	Password = "p"
	Realm    = "test"
)

// Server is a running TURN server on loopback.
type Server struct {
	Name string
	Addr netip.AddrPort
	// Kill stops the server abruptly (coturn: SIGKILL); later calls do
	// nothing. It also runs at the test's cleanup.
	Kill func()
	// Restart stops the server abruptly and starts a fresh one at the
	// same address, as a deploy or a crash would: every allocation,
	// permission, channel and nonce is forgotten.
	Restart func()
	// StaleNonce is how long the server's nonces last, 0 if too long to
	// matter in a test.
	StaleNonce time.Duration
	// PaddedChannelData: the server pads ChannelData (pion does, coturn
	// does not over UDP).
	PaddedChannelData bool
}

// PionConfig tunes Pion.
type PionConfig struct {
	// ChannelLifetime overrides pion's channel binding lifetime; zero keeps
	// its default. Permissions last pion's fixed 5 minutes.
	ChannelLifetime time.Duration
	// OnAuth, if set, runs for every request that carried credentials
	// (pion's AuthHandler runs once for each).
	OnAuth func()
	// Netns, when set, puts the server's listening socket in that network
	// namespace (its relayed sockets stay in the test's own).
	Netns string
}

// Pion runs a github.com/pion/turn/v4 server in this process.
func Pion(t testing.TB, cfg PionConfig) *Server {
	t.Helper()
	pc, err := ListenUDPIn(cfg.Netns, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	var mu sync.Mutex
	s := startPion(t, cfg, pc)
	kill := func() {
		mu.Lock()
		defer mu.Unlock()
		if s != nil {
			_ = s.Close()
			s = nil
		}
	}
	restart := func() {
		kill()
		pc, err := ListenUDPIn(cfg.Netns, addr)
		if err != nil {
			t.Errorf("pion restart: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		s = startPion(t, cfg, pc)
	}
	t.Cleanup(kill)
	return &Server{Name: "pion", Addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), Kill: kill, Restart: restart, PaddedChannelData: true}
}

func startPion(t testing.TB, cfg PionConfig, pc net.PacketConn) *pionturn.Server {
	t.Helper()
	key := pionturn.GenerateAuthKey(User, Realm, Password)
	s, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: Realm,
		AuthHandler: func(u, _ string, _ net.Addr) ([]byte, bool) {
			if cfg.OnAuth != nil {
				cfg.OnAuth()
			}
			return key, u == User
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
		ChannelBindTimeout: cfg.ChannelLifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// CoturnConfig tunes Coturn.
type CoturnConfig struct {
	// StaleNonce is the nonce lifetime in whole seconds; zero means 600 s.
	StaleNonce time.Duration
	// Extra flags, for example to shorten lifetimes.
	Extra []string
	// Netns, when set, runs coturn inside that network namespace (on its
	// loopback), where a test can shape its traffic with nftables.
	Netns string
	// ListenIPs and RelayIPs replace 127.0.0.1 as the addresses coturn
	// listens on and relays from (either family; Server.Addr is on the
	// first listening one). Netns must have them.
	ListenIPs, RelayIPs []netip.Addr
}

// Coturn starts coturn's turnserver with its own empty config file,
// database and pid file. Without the binary it skips the test, or fails it
// when the environment variable CI is "true" (CI installs coturn).
func Coturn(t testing.TB, cfg CoturnConfig) *Server {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("coturn's turnserver is not installed, and CI=true requires the coturn tests")
		}
		t.Skip("coturn's turnserver is not installed (Debian package coturn); skipping the coturn tests")
	}
	stale := cfg.StaleNonce
	if stale <= 0 {
		stale = 600 * time.Second
	}
	port := freeUDPPort(t, cfg.Netns)
	// Relay ports above the kernel's ephemeral range (32768-60999 by
	// default), so no socket of the test can hold one; the window is offset
	// by our port so that parallel runs do not share it.
	minPort := 61000 + port%4000
	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"-c", conf, "-n",
		"--listening-port=" + strconv.Itoa(port),
		"--min-port=" + strconv.Itoa(minPort), "--max-port=" + strconv.Itoa(minPort+63),
		"--lt-cred-mech", "--user=" + User + ":" + Password, "--realm=" + Realm,
		"--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-cli", "--allow-loopback-peers",
		"--fingerprint", "--stale-nonce=" + strconv.Itoa(int(stale/time.Second)),
		"--log-file=stdout", "--simple-log",
		"--pidfile=" + filepath.Join(dir, "turnserver.pid"), "--db=" + filepath.Join(dir, "turndb"),
	}, cfg.Extra...)
	listen := coturnIPs(&args, "--listening-ip=", cfg.ListenIPs)
	coturnIPs(&args, "--relay-ip=", cfg.RelayIPs)
	var (
		mu  sync.Mutex
		cmd *exec.Cmd
		out lockedBuffer
	)
	start := func() {
		c := exec.Command(bin, args...)
		if cfg.Netns != "" {
			c = exec.Command("ip", append([]string{"netns", "exec", cfg.Netns, bin}, args...)...)
		}
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		cmd = c
		mu.Unlock()
	}
	kill := func() {
		mu.Lock()
		defer mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	start()
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("coturn output:\n%s", out.String())
		}
	})
	addr := netip.AddrPortFrom(listen, uint16(port))
	waitForBinding(t, addr, cfg.Netns, &out)
	restart := func() {
		kill()
		start()
		waitForBinding(t, addr, cfg.Netns, &out)
	}
	return &Server{Name: "coturn", Addr: addr, Kill: kill, Restart: restart, StaleNonce: stale}
}

// coturnIPs adds a flag for each of ips, or for 127.0.0.1 when there are
// none, and returns the first address.
func coturnIPs(args *[]string, flag string, ips []netip.Addr) netip.Addr {
	if len(ips) == 0 {
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	for _, a := range ips {
		*args = append(*args, flag+a.String())
	}
	return ips[0]
}

// waitForBinding polls the server with STUN Binding until it answers, so
// that a test does not race the server's start.
func waitForBinding(t testing.TB, addr netip.AddrPort, ns string, log *lockedBuffer) {
	t.Helper()
	conn, err := ListenUDPIn(ns, netip.AddrPortFrom(addr.Addr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if _, err := conn.WriteToUDPAddrPort(stunmsg.PlainBindingRequest(stunmsg.TxID{1}), addr); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := conn.ReadFromUDPAddrPort(buf); err == nil && stunmsg.IsSTUN(buf[:n]) {
			return
		}
	}
	t.Fatalf("coturn did not answer Binding within 5 s; output:\n%s", log.String())
}

func freeUDPPort(t testing.TB, ns string) int {
	t.Helper()
	c, err := ListenUDPIn(ns, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// lockedBuffer collects a child's output while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
