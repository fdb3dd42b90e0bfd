package relay_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/peerlink/peerlink/state/stunmsg"
)

const (
	user     = "u"
	password = "p"
	realm    = "test"
)

// server is a TURN server on loopback the two nodes share.
type server struct {
	name string
	addr netip.AddrPort
	// stop ends the server abruptly (coturn: SIGKILL); later calls do
	// nothing.
	stop func()
}

// pionServer runs github.com/pion/turn/v4 in this process.
func pionServer(t *testing.T) *server {
	t.Helper()
	return pionServerCounting(t, nil)
}

// pionServerCounting runs pion/turn and counts the requests that carried
// credentials (its AuthHandler runs once for each) in auths, if not nil.
func pionServerCounting(t *testing.T, auths *atomic.Int64) *server {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := pionturn.GenerateAuthKey(user, realm, password)
	s, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: realm,
		AuthHandler: func(u, _ string, _ net.Addr) ([]byte, bool) {
			if auths != nil {
				auths.Add(1)
			}
			return key, u == user
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = s.Close() }) }
	t.Cleanup(stop)
	return &server{name: "pion", addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), stop: stop}
}

// coturnServer starts coturn's turnserver as a child process, or skips
// the test when it is not installed (and fails it when CI is "true").
func coturnServer(t *testing.T) *server {
	t.Helper()
	return coturnServerWith(t, 600)
}

// coturnServerWith starts coturn with nonces that go stale after
// staleNonce seconds.
func coturnServerWith(t *testing.T, staleNonce int) *server {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("coturn's turnserver is not installed; CI=true requires the coturn tests")
		}
		t.Skip("coturn's turnserver is not installed (Debian package coturn): skipping")
	}
	port := freePort(t)
	// Relay ports above the kernel's ephemeral range, so that no socket of
	// this test can hold one; the window is offset by our port so that
	// parallel runs do not share it.
	minPort := 61000 + port%4000
	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf, "-n",
		"--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--min-port="+strconv.Itoa(minPort), "--max-port="+strconv.Itoa(minPort+63),
		"--lt-cred-mech", "--user="+user+":"+password, "--realm="+realm,
		"--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-cli", "--allow-loopback-peers",
		"--fingerprint", "--stale-nonce="+strconv.Itoa(staleNonce), "--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(dir, "pid"), "--db="+filepath.Join(dir, "db"))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("coturn output:\n%s", out.String())
		}
	})
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))
	awaitBinding(t, addr, &out)
	return &server{name: "coturn", addr: addr, stop: stop}
}

// awaitBinding polls the server with STUN Binding until it answers, so
// that the nodes do not race the server's start.
func awaitBinding(t *testing.T, addr netip.AddrPort, out *syncBuffer) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if _, err := c.WriteToUDPAddrPort(stunmsg.PlainBindingRequest(stunmsg.TxID{7}), addr); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil && stunmsg.Classify(buf[:n]) == stunmsg.KindSTUN {
			return
		}
	}
	t.Fatalf("coturn did not answer within 5 s:\n%s", out.String())
}

func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// syncBuffer collects a child's output while the test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
