//go:build linux

package dualstack

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

const conn node.ConnID = 6

// timers notice a dead relay within seconds, as in tests/relay.
var timers = turn.Config{
	KeepaliveInterval: 2 * time.Second,
	RequestRTO:        100 * time.Millisecond,
	RequestRTOMax:     400 * time.Millisecond,
	RequestTransmits:  5,
}

// peer is one Node under a Driver over a linux.Conn whose socket lives in
// a namespace.
type peer struct {
	name   string
	d      *drivers.Driver
	locals []netip.AddrPort
	events chan node.Event
	got    atomic.Int64
	done   chan error
}

// startPeer opens one socket in ns on bind (the unspecified IPv6 address
// makes it dual-stack) and gives the Node ips on its port.
func startPeer(t *testing.T, ctx context.Context, name, ns string, bind netip.Addr, ips ...netip.Addr) *peer {
	t.Helper()
	uc, err := realturn.ListenUDPIn(ns, netip.AddrPortFrom(bind, 0))
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(uc.LocalAddr().(*net.UDPAddr).Port)
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{name: name, events: make(chan node.Event, 4096), done: make(chan error, 1)}
	p.d, err = drivers.New(lc, drivers.Config{
		Node:    node.Config{Relay: timers},
		OnEvent: func(e node.Event) { p.events <- e },
		OnData: func(_ node.ConnID, b []byte) {
			if len(b) >= 4 {
				p.got.Add(1)
			}
		},
		Logger: logcheck.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.d.Run(ctx) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: driver did not stop", name)
		}
	})
	for _, ip := range ips {
		a := netip.AddrPortFrom(ip, port)
		if err := p.d.AddLocalAddress(ctx, a); err != nil {
			t.Fatal(err)
		}
		p.locals = append(p.locals, a)
	}
	return p
}

// local is p's address of ip's family.
func (p *peer) local(server netip.AddrPort) netip.AddrPort {
	for _, a := range p.locals {
		if a.Addr().Is4() == server.Addr().Is4() {
			return a
		}
	}
	panic("no local address of the server's family")
}

// relayUse is how a peer uses the relay: which of its addresses, and
// which families it asks for.
type relayUse struct {
	server netip.AddrPort
	family turn.Family
}

// outcome is what connectThroughRelay saw.
type outcome struct {
	connected bool
	after     time.Duration
	paths     [2]node.Path
	gathered  [2][]netip.AddrPort // relay candidates each side gathered
}

// connectThroughRelay adds the relay to both peers, connects them with
// signalling that carries relay candidates only (no direct path exists
// anyway), and waits up to wait for both to connect.
func connectThroughRelay(t *testing.T, ctx context.Context, peers [2]*peer, uses [2]relayUse, wait time.Duration) outcome {
	t.Helper()
	start := time.Now()
	for i, p := range peers {
		u := uses[i]
		if err := p.d.AddRelay(ctx, u.server, p.local(u.server), realturn.User, realturn.Password,
			node.WithFamily(u.family)); err != nil {
			t.Fatal(err)
		}
	}
	out := connectAdded(t, ctx, peers, wait)
	out.after = time.Since(start)
	return out
}

// signalHosts makes connectAdded signal host candidates too.
var signalHosts bool

// connectAdded connects two peers whose relays are added, as
// connectThroughRelay does.
func connectAdded(t *testing.T, ctx context.Context, peers [2]*peer, wait time.Duration) outcome {
	t.Helper()
	start := time.Now()
	credA, credB := ice.NewCredentials(seeded(1)), ice.NewCredentials(seeded(2))
	if _, err := peers[0].d.Connect(ctx, conn, node.Controlling, credA, credB); err != nil {
		t.Fatal(err)
	}
	if _, err := peers[1].d.Connect(ctx, conn, node.Controlled, credB, credA); err != nil {
		t.Fatal(err)
	}
	var out outcome
	connected := [2]bool{}
	deadline := time.After(wait)
	for !connected[0] || !connected[1] {
		for i, p := range peers {
			select {
			case e := <-p.events:
				switch e := e.(type) {
				case node.CandidateGathered:
					if e.Candidate.Type == stunmsg.Relay {
						out.gathered[i] = append(out.gathered[i], e.Candidate.Addr)
					}
					if e.Candidate.Type == stunmsg.Relay || signalHosts {
						err := peers[1-i].d.AddRemoteCandidate(ctx, conn, e.Candidate)
						if err != nil && !errors.Is(err, node.ErrConnFailed) {
							t.Errorf("%s refused %v: %v", peers[1-i].name, e.Candidate, err)
						}
					}
				case node.Connected:
					connected[i], out.paths[i] = true, e.Path
				case node.Failed:
					t.Logf("%s: %v", p.name, e)
					return out
				}
			default:
			}
		}
		select {
		case <-deadline:
			return out
		case <-time.After(time.Millisecond):
		}
	}
	out.connected, out.after = true, time.Since(start)
	return out
}

// exchange sends n numbered datagrams each way and waits for them.
func exchange(t *testing.T, ctx context.Context, peers [2]*peer, n int) {
	t.Helper()
	b := make([]byte, 200)
	for i := range n {
		binary.BigEndian.PutUint32(b, uint32(i))
		for _, p := range peers {
			if err := p.d.Send(ctx, conn, b); err != nil {
				t.Fatalf("%s: send %d: %v", p.name, i, err)
			}
		}
		if i%20 == 19 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if peers[0].got.Load() == int64(n) && peers[1].got.Load() == int64(n) {
			return
		}
	}
	t.Fatalf("received %s=%d %s=%d, want %d each", peers[0].name, peers[0].got.Load(), peers[1].name, peers[1].got.Load(), n)
}

func family(a netip.AddrPort) string {
	if a.Addr().Unmap().Is4() {
		return "v4"
	}
	return "v6"
}

// describePath is a path's candidate types and families, for the log line.
func describePath(p node.Path) string {
	return p.Local.Type.String() + "/" + family(p.Local.Addr) + "->" + p.Remote.Type.String() + "/" + family(p.Remote.Addr)
}

func seeded(n uint64) *rand.Rand { return rand.New(rand.NewPCG(n, n)) }
