// Command wgpeer brings up a WireGuard interface whose one peer is reached
// over peerlink: NAT traversal, probes and TURN relays under wireguard-go,
// with the signalling (keys, ICE credentials, candidates) carried over a
// Unix socket that both hosts can open. One host listens on the socket
// (-serve), the other dials it; a Unix socket path is shared by network
// namespaces, so the two hosts may be namespaces of one machine.
//
// Linux only, as root (a TUN device). See the README's "WireGuard over
// peerlink" for a walk-through.
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/wgbind"
)

// peerConn is the connection ID of the one peer; any number the program
// likes, used in the WireGuard endpoint ("peerlink:1").
const peerConn node.ConnID = 1

// message is one line of signalling, JSON-encoded.
type message struct {
	// Hello: the WireGuard public key and the ICE credentials.
	Key   string `json:"key,omitempty"`
	Ufrag string `json:"ufrag,omitempty"`
	Pwd   string `json:"pwd,omitempty"`
	// A candidate gathered, or withdrawn.
	Candidate string `json:"candidate,omitempty"`
	Withdrawn string `json:"withdrawn,omitempty"`
}

type options struct {
	signal            string
	serve             bool
	local             string
	tunName, tunAddr  string
	peerAddr          string
	mtu               int
	stun, turn        string
	turnUser, turnPwd string
}

func main() {
	var o options
	flag.StringVar(&o.signal, "signal", "/tmp/wgpeer.sock", "Unix socket path for signalling")
	flag.BoolVar(&o.serve, "serve", false, "listen on the signalling socket (the other host dials it)")
	flag.StringVar(&o.local, "local", "", "local IPv4 address to send and receive on (required)")
	flag.StringVar(&o.tunName, "tun", "wgpeer0", "TUN device name")
	flag.StringVar(&o.tunAddr, "addr", "", "tunnel address with prefix, e.g. 10.99.0.1/24 (required)")
	flag.StringVar(&o.peerAddr, "peer", "", "the peer's tunnel prefix routed to it, e.g. 10.99.0.2/32 (required)")
	flag.IntVar(&o.mtu, "mtu", 1420, "tunnel MTU; at most 1468 if a relay may carry it (see package wgbind)")
	flag.StringVar(&o.stun, "stun", "", "STUN server host:port, for a server-reflexive candidate")
	flag.StringVar(&o.turn, "turn", "", "TURN server host:port, for a relay candidate")
	flag.StringVar(&o.turnUser, "turn-user", "", "TURN user")
	flag.StringVar(&o.turnPwd, "turn-pass", "", "TURN password")
	flag.Parse()
	if o.local == "" || o.tunAddr == "" || o.peerAddr == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("wgpeer: %v", err)
	}
}

func run(ctx context.Context, o options) error {
	local, err := netip.ParseAddr(o.local)
	if err != nil {
		return fmt.Errorf("-local: %w", err)
	}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: local.AsSlice()})
	if err != nil {
		return err
	}
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		return err
	}
	events := make(chan node.Event, 256)
	cfg := wgbind.Config{Driver: drivers.Config{
		// OnEvent runs on the driver's goroutine and must not block; the
		// channel is drained by the signalling loop below.
		OnEvent: func(e node.Event) {
			select {
			case events <- e:
			default:
				log.Printf("wgpeer: event dropped, signalling fell behind: %v", e)
			}
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}
	if o.stun != "" {
		s, err := netip.ParseAddrPort(o.stun)
		if err != nil {
			return fmt.Errorf("-stun: %w", err)
		}
		cfg.Driver.Node.StunServers = []netip.AddrPort{s}
	}
	b, err := wgbind.New(lc, cfg)
	if err != nil {
		return err
	}
	d := b.Driver()
	driverDone := make(chan error, 1)
	go func() { driverDone <- d.Run(ctx) }()
	self := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := d.AddLocalAddress(ctx, self); err != nil {
		return err
	}
	if o.turn != "" {
		s, err := netip.ParseAddrPort(o.turn)
		if err != nil {
			return fmt.Errorf("-turn: %w", err)
		}
		err = d.Do(ctx, func(now time.Time, p *pump.Pump) error {
			return p.Node().AddRelay(now, s, self, o.turnUser, o.turnPwd)
		})
		if err != nil {
			return err
		}
	}

	sc, err := dialSignal(ctx, o.signal, o.serve)
	if err != nil {
		return err
	}
	defer sc.Close()
	priv, pub, err := keyPair()
	if err != nil {
		return err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return err
	}
	creds := ice.NewCredentials(rand.New(rand.NewChaCha8(seed)))
	enc := json.NewEncoder(sc)
	if err := enc.Encode(message{Key: hex.EncodeToString(pub[:]), Ufrag: creds.Ufrag, Pwd: creds.Pwd}); err != nil {
		return err
	}
	lines := bufio.NewScanner(sc)
	var hello message
	if !lines.Scan() {
		return fmt.Errorf("signalling closed before the peer's hello: %v", lines.Err())
	}
	if err := json.Unmarshal(lines.Bytes(), &hello); err != nil {
		return fmt.Errorf("peer's hello: %w", err)
	}
	// Order matters for a fast start: Connect, then the device, then the
	// candidates both ways. A datagram that arrives before the device
	// opened its Bind is dropped, like one sent to a socket not yet open,
	// and a handshake lost that way costs wireguard-go's 5 s retry. With
	// the peer's candidates, this side would answer the peer's checks and
	// could connect (and be sent the first handshake) before its device
	// is up.
	// The side that listens is controlled; the one that dials controls.
	role := node.Controlling
	if o.serve {
		role = node.Controlled
	}
	start := time.Now()
	if _, err := d.Connect(ctx, peerConn, role, creds, ice.Credentials{Ufrag: hello.Ufrag, Pwd: hello.Pwd}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	td, err := tun.CreateTUN(o.tunName, o.mtu)
	if err != nil {
		return fmt.Errorf("creating TUN %s: %w", o.tunName, err)
	}
	for _, args := range [][]string{{"addr", "add", o.tunAddr, "dev", o.tunName}, {"link", "set", o.tunName, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	dev := device.NewDevice(td, b, device.NewLogger(device.LogLevelError, "wgpeer: "))
	defer dev.Close()
	// Only the dialing side keeps the tunnel warm. A keepalive on both
	// sides would make both initiate a handshake at Up; both initiations
	// wait in peerlink until the path exists and cross, and WireGuard
	// resolves two crossed handshakes only by its 5 s retry.
	keepalive := 0
	if !o.serve {
		keepalive = 25
	}
	uapi := fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=%s\nallowed_ip=%s\npersistent_keepalive_interval=%d\n",
		hex.EncodeToString(priv[:]), hello.Key, wgbind.EndpointString(peerConn), o.peerAddr, keepalive)
	if err := dev.IpcSet(uapi); err != nil {
		return err
	}
	if err := dev.Up(); err != nil {
		return err
	}
	// Candidates from the peer, as they come.
	go func() {
		for lines.Scan() {
			var m message
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				log.Printf("wgpeer: bad signalling line: %v", err)
				continue
			}
			if err := remoteCandidate(ctx, d, m); err != nil {
				log.Printf("wgpeer: %v", err)
			}
		}
	}()

	fmt.Printf("wgpeer: %s up with %s, peer %s reached over peerlink (%s)\n", o.tunName, o.tunAddr, o.peerAddr, wgbind.EndpointString(peerConn))

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-driverDone:
			return fmt.Errorf("driver stopped: %v", err)
		case e := <-events:
			switch e := e.(type) {
			case node.CandidateGathered:
				err = enc.Encode(message{Candidate: e.Candidate.Marshal()})
			case node.CandidateWithdrawn:
				err = enc.Encode(message{Withdrawn: e.Candidate.Marshal()})
			case node.Connected:
				fmt.Printf("wgpeer: connected after %v over %v\n", time.Since(start).Round(time.Millisecond), e.Path)
			case node.PathChanged:
				fmt.Printf("wgpeer: path changed to %v\n", e.Path)
			case node.Failed:
				// The program decides what a failure means; this one
				// only says why. Another would signal afresh and
				// Connect again.
				fmt.Printf("wgpeer: connection failed: %v\n", e.Reason)
			}
			if err != nil {
				return fmt.Errorf("signalling: %w", err)
			}
		}
	}
}

// remoteCandidate feeds one signalled candidate (or its withdrawal) to the
// Driver.
func remoteCandidate(ctx context.Context, d *drivers.Driver, m message) error {
	switch {
	case m.Candidate != "":
		c, err := stunmsg.ParseCandidate(m.Candidate)
		if err != nil {
			return fmt.Errorf("peer candidate %q: %w", m.Candidate, err)
		}
		return d.AddRemoteCandidate(ctx, peerConn, c)
	case m.Withdrawn != "":
		c, err := stunmsg.ParseCandidate(m.Withdrawn)
		if err != nil {
			return fmt.Errorf("peer candidate %q: %w", m.Withdrawn, err)
		}
		return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
			return p.Node().RemoveRemoteCandidate(now, peerConn, c.Addr)
		})
	}
	return nil
}

// dialSignal returns the signalling connection: the first host to arrive
// listens, the other dials, retrying until the listener is there.
func dialSignal(ctx context.Context, path string, serve bool) (net.Conn, error) {
	if serve {
		_ = os.Remove(path)
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		defer l.Close()
		go func() {
			<-ctx.Done()
			l.Close()
		}()
		return l.Accept()
	}
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// keyPair draws a WireGuard (Curve25519) key pair.
func keyPair() (priv, pub [32]byte, err error) {
	if _, err = crand.Read(priv[:]); err != nil {
		return priv, pub, err
	}
	priv[0] &= 248
	priv[31] = (priv[31] & 127) | 64
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	copy(pub[:], p)
	return priv, pub, err
}
