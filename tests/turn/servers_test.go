package turn_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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

// relayServer is a running TURN server the scenarios use.
type relayServer struct {
	name string
	addr netip.AddrPort
	// kill stops the server abruptly; later calls do nothing.
	kill func()
	// staleNonceAfter is the server's nonce lifetime, 0 if too long to see
	// in a test.
	staleNonceAfter time.Duration
	// paddedChannelData: the server pads ChannelData (pion does, coturn
	// does not over UDP).
	paddedChannelData bool
}

const (
	testUser     = "u"
	testPassword = "p"
	testRealm    = "test"
	// shortLifetime is the server-side lifetime of channels and
	// permissions (and the largest allocation lifetime) in the refresh
	// scenario, short enough for three refresh cycles to fit in seconds.
	shortLifetime = 5 * time.Second
)

// startPion runs a pion/turn server in-process on loopback. Its channel
// bindings last channelLifetime; permissions last pion's fixed 5 minutes.
func startPion(t *testing.T, channelLifetime time.Duration) *relayServer {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := pionturn.GenerateAuthKey(testUser, testRealm, testPassword)
	s, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: testRealm,
		AuthHandler: func(user, realm string, _ net.Addr) ([]byte, bool) {
			return key, user == testUser
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
		ChannelBindTimeout: channelLifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = s.Close() }) }
	t.Cleanup(kill)
	return &relayServer{name: "pion", addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), kill: kill,
		paddedChannelData: true}
}

// startCoturn runs coturn's turnserver on loopback with its own empty
// config file, database and pid file; extra flags shorten lifetimes.
func startCoturn(t *testing.T, extra ...string) *relayServer {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("coturn's turnserver is not installed, and CI=true requires the coturn tests")
		}
		t.Skip("coturn's turnserver is not installed (Debian package coturn); skipping the coturn tests")
	}
	port := freeUDPPort(t)
	// Relay ports: a random window of 64 in the upper range, away from the
	// ephemeral ports the kernel hands out (32768-60999 by default would
	// overlap, so start above it).
	minPort := 61000 + rand.IntN(4000)
	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"-c", conf, "-n",
		"--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
		"--listening-port=" + strconv.Itoa(port),
		"--min-port=" + strconv.Itoa(minPort), "--max-port=" + strconv.Itoa(minPort+63),
		"--lt-cred-mech", "--user=" + testUser + ":" + testPassword, "--realm=" + testRealm,
		"--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-cli", "--allow-loopback-peers",
		"--fingerprint", "--stale-nonce=5", "--log-file=stdout", "--simple-log",
		"--pidfile=" + filepath.Join(dir, "turnserver.pid"), "--db=" + filepath.Join(dir, "turndb"),
	}, extra...)
	cmd := exec.Command(bin, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("coturn output:\n%s", out.String())
		}
	})
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))
	waitForBinding(t, addr, &out)
	return &relayServer{name: "coturn", addr: addr, kill: kill, staleNonceAfter: 5 * time.Second}
}

// waitForBinding polls the server with STUN Binding until it answers.
func waitForBinding(t *testing.T, addr netip.AddrPort, log *lockedBuffer) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
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
		if n, _, err := conn.ReadFromUDPAddrPort(buf); err == nil && stunmsg.Classify(buf[:n]) == stunmsg.KindSTUN {
			return
		}
	}
	t.Fatalf("coturn did not answer Binding within 5 s; output:\n%s", log.String())
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
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
	return fmt.Sprint(b.buf.String())
}
