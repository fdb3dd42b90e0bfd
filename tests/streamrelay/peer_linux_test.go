package streamrelay_test

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/pair"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

const (
	conn      node.ConnID = 3
	datagrams             = 100000
)

// peer is one Node under drivers.Driver over a linux.Conn whose socket and
// relay streams live in the peer's namespace.
type peer struct {
	name   string
	d      *drivers.Driver
	local  netip.AddrPort
	raw    chan node.Event
	events chan node.Event
	got    atomic.Int64
	last   atomic.Int64 // highest sequence number received
	done   chan error
	// signalHost: signal host candidates too (a peer whose UDP is open).
	signalHost bool
}

func startPeer(t *testing.T, ctx context.Context, name string, pn peerNet, timers turn.Config) *peer {
	t.Helper()
	uc, err := realturn.ListenUDPIn(pn.ns, netip.AddrPortFrom(pn.addr, 0))
	if err != nil {
		t.Fatal(err)
	}
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{name: name, local: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		raw: make(chan node.Event, 4096), events: make(chan node.Event, 4096), done: make(chan error, 1)}
	p.d, err = drivers.New(lc, drivers.Config{
		Node:    node.Config{Relay: timers},
		OnEvent: func(e node.Event) { p.raw <- e },
		OnData:  p.receive,
		Logger:  logcheck.New(t),
		Dial:    realturn.DialIn(pn.ns),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.d.Run(ctx) }()
	// A program adds its host address whatever the network; here it is
	// useless (UDP is blocked) but keeps the agent a candidate while the
	// relay's is replaced.
	if err := p.d.AddLocalAddress(ctx, p.local); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: driver did not stop", name)
		}
	})
	return p
}

func (p *peer) receive(_ node.ConnID, b []byte) {
	if len(b) >= 4 {
		p.got.Add(1)
		p.last.Store(int64(binary.BigEndian.Uint32(b)))
	}
}

// addRelay adds the relay at url with roots (for turns) or none.
func (p *peer) addRelay(ctx context.Context, url string, roots *x509.CertPool, pins [][]byte) error {
	return p.d.AddRelayConfig(ctx, drivers.Relay{URL: url, Local: p.local, Username: realturn.User, Password: realturn.Password,
		TLS: drivers.RelayTLS{RootCAs: roots, PinSHA256: pins}})
}

// route forwards p's relay candidates and their withdrawal to other (the
// application's signalling) and passes every event on to p.events.
func (p *peer) route(ctx context.Context, t *testing.T, other *peer) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.raw:
			switch e := e.(type) {
			case node.CandidateGathered:
				if e.Candidate.Type == stunmsg.ServerReflexive {
					t.Errorf("%s gathered %v: a stream relay's reflexive address is no UDP candidate", p.name, e.Candidate)
				}
				if e.Candidate.Type != stunmsg.Relay && !p.signalHost {
					break // host: UDP is blocked, it cannot work
				}
				err := other.d.AddRemoteCandidate(ctx, conn, e.Candidate)
				if err != nil && !errors.Is(err, node.ErrConnFailed) && ctx.Err() == nil {
					t.Errorf("%s refused %v: %v", other.name, e.Candidate, err)
				}
			case node.CandidateWithdrawn:
				_ = other.d.RemoveRemoteCandidate(ctx, e.Conn, e.Candidate.Addr)
			}
			p.events <- e
		}
	}
}

// await returns the first event match accepts, failing the test after d
// or on a Failed event.
func (p *peer) await(t *testing.T, d time.Duration, what string, match func(node.Event) bool) node.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-p.events:
			if match(e) {
				return e
			}
			if f, ok := e.(node.Failed); ok {
				t.Fatalf("%s: %v while waiting for %s", p.name, f, what)
			}
		case <-timeout:
			t.Fatalf("%s: no %s within %v", p.name, what, d)
		}
	}
}

// connect gives both peers the connection, then starts the signalling
// (pair.Connect says why in that order).
func connect(t *testing.T, ctx context.Context, a, b *peer) {
	t.Helper()
	pair.Connect(t, ctx, a.d, b.d, conn)
	go a.route(ctx, t, b)
	go b.route(ctx, t, a)
}

// stream sends a numbered datagram every interval from a to b until ctx
// ends; refusals while the connection has no path are expected. The
// payloads are 201 bytes, so that their ChannelData needs padding on the
// stream.
func stream(ctx context.Context, a *peer, interval time.Duration) {
	buf := make([]byte, 201)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := uint32(0); ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		binary.BigEndian.PutUint32(buf, i)
		_ = a.d.Send(ctx, conn, buf)
	}
}

// waitGot waits until p has received n datagrams, or d.
func (p *peer) waitGot(n int64, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if p.got.Load() >= n {
			return true
		}
	}
	return false
}
