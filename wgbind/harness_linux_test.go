package wgbind

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// tunnelConn is the connection ID both sides of a test use for each other.
const tunnelConn node.ConnID = 1

// side is one host of a test: a UDP socket, the Bind and its Driver, and
// (once started) a wireguard-go device.
type side struct {
	name string
	bind *Bind
	d    *drivers.Driver
	addr netip.AddrPort
	// events gets every Node event; route takes signalling out of it.
	events chan node.Event
	// overflow counts events OnEvent could not queue (a test bug).
	overflow sync.Map
	dev      *device.Device
	priv     [32]byte
	pub      [32]byte
	done     chan error
}

// newSide starts a Bind and its Driver over uc.
func newSide(t *testing.T, ctx context.Context, name string, uc *net.UDPConn, cfg Config) *side {
	t.Helper()
	if err := uc.SetReadBuffer(4 << 20); err != nil {
		t.Logf("read buffer: %v", err)
	}
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &side{name: name, addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 4096), done: make(chan error, 1)}
	cfg.Driver.OnEvent = func(e node.Event) {
		select {
		case s.events <- e:
		default:
			s.overflow.Store(e.String(), true)
		}
	}
	if cfg.Driver.Logger == nil {
		cfg.Driver.Logger = logcheck.New(t)
	}
	s.bind, err = New(lc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.d = s.bind.Driver()
	dctx, cancel := context.WithCancel(ctx)
	go func() { s.done <- s.d.Run(dctx) }()
	t.Cleanup(func() {
		if s.dev != nil {
			s.dev.Close()
		}
		cancel()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: driver did not stop", name)
		}
	})
	if err := s.d.AddLocalAddress(ctx, s.addr); err != nil {
		t.Fatal(err)
	}
	s.priv, s.pub = newKeyPair(t)
	return s
}

// newKeyPair draws a Curve25519 key pair for a WireGuard device.
func newKeyPair(t *testing.T) (priv, pub [32]byte) {
	t.Helper()
	if _, err := rand.Read(priv[:]); err != nil {
		t.Fatal(err)
	}
	priv[0] &= 248
	priv[31] = (priv[31] & 127) | 64
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	copy(pub[:], p)
	return priv, pub
}

// signalling is what the program carries between the two sides: the
// credentials, then every candidate that keep accepts, both ways.
type signalling struct {
	// first is when the first candidate was signalled, for connect times.
	mu    sync.Mutex
	first time.Time
	// others get every event that is not signalling, per side.
	others [2]chan node.Event
}

// connect exchanges credentials, connects both sides (a controlling) and
// forwards the candidates keep accepts until ctx ends.
func connect(t *testing.T, ctx context.Context, a, b *side, keep func(node.Candidate) bool) *signalling {
	t.Helper()
	sig := &signalling{others: [2]chan node.Event{make(chan node.Event, 4096), make(chan node.Event, 4096)}}
	ca := ice.Credentials{Ufrag: randomString(t, 8), Pwd: randomString(t, 24)}
	cb := ice.Credentials{Ufrag: randomString(t, 8), Pwd: randomString(t, 24)}
	// Both connect before any candidate is forwarded: a candidate for a
	// connection the peer does not have yet is refused (ErrUnknownConn).
	// The events wait in the sides' channels meanwhile.
	if _, err := b.d.Connect(ctx, tunnelConn, node.Controlled, cb, ca); err != nil {
		t.Fatal(err)
	}
	if _, err := a.d.Connect(ctx, tunnelConn, node.Controlling, ca, cb); err != nil {
		t.Fatal(err)
	}
	go sig.route(ctx, a, b, keep, sig.others[0])
	go sig.route(ctx, b, a, keep, sig.others[1])
	return sig
}

func (sig *signalling) route(ctx context.Context, from, to *side, keep func(node.Candidate) bool, others chan node.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-from.events:
			if _, cand := e.(node.CandidateGathered); testing.Verbose() && !cand {
				fmt.Printf("%s %s: %v\n", time.Now().Format("15:04:05.000"), from.name, e)
			}
			switch e := e.(type) {
			case node.CandidateGathered:
				if keep == nil || keep(e.Candidate) {
					sig.mu.Lock()
					if sig.first.IsZero() {
						sig.first = time.Now()
					}
					sig.mu.Unlock()
					if err := to.d.AddRemoteCandidate(ctx, e.Conn, e.Candidate); err != nil && ctx.Err() == nil {
						panic(fmt.Sprintf("signalling %v to %s: %v", e, to.name, err))
					}
				}
			case node.CandidateWithdrawn:
				_ = to.d.Do(ctx, func(now time.Time, p *pump.Pump) error {
					return p.Node().RemoveRemoteCandidate(now, e.Conn, e.Candidate.Addr)
				})
			default:
				others <- e
			}
		}
	}
}

func (sig *signalling) firstCandidate() time.Time {
	sig.mu.Lock()
	defer sig.mu.Unlock()
	return sig.first
}

// await returns the first event on ch that match accepts.
func await(t *testing.T, ch chan node.Event, d time.Duration, what string, match func(node.Event) bool) node.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
			if f, ok := e.(node.Failed); ok {
				t.Fatalf("waiting for %s: %v", what, f)
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

func isConnected(e node.Event) bool { _, ok := e.(node.Connected); return ok }

// startDevice brings up a wireguard-go device on td whose one peer is
// peer, reached over tunnelConn, with allowed the peer's tunnel prefix.
func (s *side) startDevice(t *testing.T, td tun.Device, peer *side, allowed string) {
	t.Helper()
	s.dev = device.NewDevice(td, s.bind, device.NewLogger(device.LogLevelError, fmt.Sprintf("(%s) ", s.name)))
	s.configure(t, peer, allowed)
}

// configure gives the device its key and its one peer, and brings it up.
func (s *side) configure(t *testing.T, peer *side, allowed string) {
	t.Helper()
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nendpoint=%s\nallowed_ip=%s\npersistent_keepalive_interval=0\n",
		hex.EncodeToString(s.priv[:]), hex.EncodeToString(peer.pub[:]), EndpointString(tunnelConn), allowed)
	if err := s.dev.IpcSet(cfg); err != nil {
		t.Fatalf("%s: configuring the device: %v", s.name, err)
	}
	if err := s.dev.Up(); err != nil {
		t.Fatalf("%s: device up: %v", s.name, err)
	}
}

func randomString(t *testing.T, n int) string {
	t.Helper()
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// hostOnly keeps host candidates: a direct path between sockets that can
// reach each other.
func hostOnly(c node.Candidate) bool { return c.Type == stunmsg.Host }
