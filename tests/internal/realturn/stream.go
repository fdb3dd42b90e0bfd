package realturn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// StreamConfig tunes CoturnStreams.
type StreamConfig struct {
	// Netns runs coturn in that namespace; IP is the address it listens
	// and relays on there (it must be configured in Netns).
	Netns string
	IP    netip.Addr
	// Extra flags.
	Extra []string
}

// StreamServer is coturn listening on UDP, TCP and TLS at once.
type StreamServer struct {
	// UDP and TCP share a port (coturn listens on both); TLS has its own.
	UDP, TCP, TLS netip.AddrPort
	// Cert is the self-signed certificate the TLS listener presents, made
	// at run time for IP.
	Cert *x509.Certificate
	// Restart kills coturn (SIGKILL, every allocation and stream gone)
	// and starts it again on the same ports; Kill only stops it.
	Restart, Kill func()
	// Log returns coturn's output so far.
	Log func() string
}

// CoturnStreams starts coturn with TURN over UDP, TCP and TLS (RFC 8656
// section 3.1), the relayed transport UDP only. It skips like Coturn
// without the binary.
func CoturnStreams(t testing.TB, cfg StreamConfig) *StreamServer {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("coturn's turnserver is not installed, and CI=true requires the coturn tests")
		}
		t.Skip("coturn's turnserver is not installed (Debian package coturn); skipping the coturn tests")
	}
	dir := t.TempDir()
	cert, certFile, keyFile := selfSigned(t, dir, cfg.IP)
	port := freeUDPPort(t, "")
	tlsPort := port + 1
	if tlsPort > 60999 {
		tlsPort = port - 1
	}
	minPort := 61000 + port%4000
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ip := cfg.IP.String()
	args := append([]string{
		"-c", conf, "-n",
		"--listening-ip=" + ip, "--relay-ip=" + ip,
		"--listening-port=" + strconv.Itoa(port), "--tls-listening-port=" + strconv.Itoa(tlsPort),
		"--alt-listening-port=0", "--alt-tls-listening-port=0",
		"--cert=" + certFile, "--pkey=" + keyFile,
		"--min-port=" + strconv.Itoa(minPort), "--max-port=" + strconv.Itoa(minPort+63),
		"--lt-cred-mech", "--user=" + User + ":" + Password, "--realm=" + Realm,
		"--no-dtls", "--no-tcp-relay", "--no-cli", "--allow-loopback-peers",
		"--fingerprint", "--log-file=stdout", "--simple-log",
		"--pidfile=" + filepath.Join(dir, "turnserver.pid"), "--db=" + filepath.Join(dir, "turndb"),
	}, cfg.Extra...)
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
	udp := netip.AddrPortFrom(cfg.IP, uint16(port))
	start()
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("coturn output:\n%s", out.String())
		}
	})
	waitForBinding(t, udp, cfg.Netns, &out)
	return &StreamServer{
		UDP: udp, TCP: udp, TLS: netip.AddrPortFrom(cfg.IP, uint16(tlsPort)), Cert: cert,
		Kill: kill,
		Restart: func() {
			kill()
			start()
			waitForBinding(t, udp, cfg.Netns, &out)
		},
		Log: out.String,
	}
}

// selfSigned makes a certificate for ip, valid for an hour, and writes it
// and its key as PEM files in dir for coturn.
func selfSigned(t testing.TB, dir string, ip netip.Addr) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "peerlink test relay"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip.AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}
