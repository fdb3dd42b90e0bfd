// Package interop tests peerlink against independent implementations: a real
// ICE agent (pion/ice) over real UDP sockets on loopback.
package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	peerice "github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

const (
	ourConn   node.ConnID = 1
	datagrams             = 1000
)

// ourSide is peerlink's driver over a real UDP socket on loopback.
type ourSide struct {
	d      *drivers.Driver
	addr   netip.AddrPort
	events chan node.Event
	data   chan []byte
	done   chan error
}

func startOurs(t *testing.T, ctx context.Context) *ourSide {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	o := &ourSide{
		addr:   uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 1024),
		data:   make(chan []byte, 2*datagrams),
		done:   make(chan error, 1),
	}
	o.d, err = drivers.New(c, drivers.Config{
		OnEvent: func(e node.Event) { o.events <- e },
		OnData:  func(_ node.ConnID, b []byte) { o.data <- bytes.Clone(b) },
		Logger:  logcheck.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { o.done <- o.d.Run(ctx) }()
	if err := o.d.AddLocalAddress(ctx, o.addr); err != nil {
		t.Fatal(err)
	}
	return o
}

// pionSide is a pion/ice agent restricted to a host candidate on 127.0.0.1.
type pionSide struct {
	agent *ice.Agent
	cand  chan ice.Candidate
	state chan ice.ConnectionState
}

func startPion(t *testing.T) *pionSide {
	t.Helper()
	p := &pionSide{cand: make(chan ice.Candidate, 8), state: make(chan ice.ConnectionState, 32)}
	var err error
	p.agent, err = ice.NewAgent(&ice.AgentConfig{
		NetworkTypes:     []ice.NetworkType{ice.NetworkTypeUDP4},
		CandidateTypes:   []ice.CandidateType{ice.CandidateTypeHost},
		IncludeLoopback:  true,
		IPFilter:         func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) },
		MulticastDNSMode: ice.MulticastDNSModeDisabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.agent.Close() })
	if err := p.agent.OnCandidate(func(c ice.Candidate) {
		if c != nil {
			p.cand <- c
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.agent.OnConnectionStateChange(func(s ice.ConnectionState) { p.state <- s }); err != nil {
		t.Fatal(err)
	}
	if err := p.agent.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPeerlinkInteroperatesWithPionICE(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute of real time; skipped with -short")
	}
	for _, pionControls := range []bool{true, false} {
		name := "pion-controlled"
		if pionControls {
			name = "pion-controlling"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			interop(t, pionControls)
		})
	}
}

func interop(t *testing.T, pionControls bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ours := startOurs(t, ctx)
	pion := startPion(t)
	fwd := newForwarder(t)
	fwd.setUs(ours.addr)

	var pionCand ice.Candidate
	select {
	case pionCand = <-pion.cand:
	case <-time.After(5 * time.Second):
		t.Fatal("pion gathered no host candidate")
	}
	fwd.setPeer(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(pionCand.Port())))

	pionUfrag, pionPwd, err := pion.agent.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	role := node.Controlling
	if pionControls {
		role = node.Controlled
	}
	creds, err := ours.d.Connect(ctx, ourConn, role, node.Credentials{}, node.Credentials{Ufrag: pionUfrag, Pwd: pionPwd})
	if err != nil {
		t.Fatal(err)
	}
	// Each side reaches the other through the forwarder's socket facing it.
	remote := stunmsg.Candidate{Foundation: "1", Component: 1, Priority: pionCand.Priority(), Type: stunmsg.Host, Addr: fwd.usAddr()}
	if err := ours.d.AddRemoteCandidate(ctx, ourConn, remote); err != nil {
		t.Fatal(err)
	}

	pionConn := make(chan *ice.Conn, 1)
	go func() {
		var c *ice.Conn
		var err error
		if pionControls {
			c, err = pion.agent.Dial(ctx, creds.Ufrag, creds.Pwd)
		} else {
			c, err = pion.agent.Accept(ctx, creds.Ufrag, creds.Pwd)
		}
		if err != nil {
			c = nil
		}
		pionConn <- c
	}()

	var connected atomic.Bool
	timeout := time.After(15 * time.Second)
	for !connected.Load() {
		select {
		case e := <-ours.events:
			switch e := e.(type) {
			case node.CandidateGathered:
				raw := fmt.Sprintf("candidate:%s 1 udp %d %s %d typ host", e.Candidate.Foundation, e.Candidate.Priority,
					fwd.peerAddr().Addr(), fwd.peerAddr().Port())
				c, err := ice.UnmarshalCandidate(raw)
				if err != nil {
					t.Fatalf("pion cannot parse %q: %v", raw, err)
				}
				if err := pion.agent.AddRemoteCandidate(c); err != nil {
					t.Fatal(err)
				}
			case node.Connected:
				connected.Store(true)
			case node.Failed:
				t.Fatalf("connection failed: %v", e)
			}
		case <-timeout:
			t.Fatal("peerlink did not connect to pion within 15 s")
		}
	}
	var pc *ice.Conn
	select {
	case pc = <-pionConn:
		if pc == nil {
			t.Fatal("pion failed to connect")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pion did not connect within 15 s")
	}

	exchange(t, ctx, ours, pc, datagrams)

	// Forget the states pion went through on the way to Connected.
	for len(pion.state) > 0 {
		if s := <-pion.state; s == ice.ConnectionStateFailed || s == ice.ConnectionStateDisconnected {
			t.Fatalf("pion was %v before going idle", s)
		}
	}
	// Idle: no application data for 40 s; probes and pion's keepalives only.
	idleEnd := time.After(40 * time.Second)
idle:
	for {
		select {
		case e := <-ours.events:
			if f, ok := e.(node.Failed); ok {
				t.Fatalf("failed while idle: %v", f)
			}
		case s := <-pion.state:
			if s != ice.ConnectionStateConnected {
				t.Fatalf("pion left the connected state while idle: %v", s)
			}
		case <-idleEnd:
			break idle
		}
	}
	exchange(t, ctx, ours, pc, 10) // back to active timing

	// Cut the path: our Node must notice within its probe timeout.
	cfg := peerice.Config{}.WithDefaults()
	fwd.cut.Store(true)
	cutAt := time.Now()
	deadline := time.After(cfg.ProbeTimeout + 5*time.Second)
	for {
		select {
		case e := <-ours.events:
			f, ok := e.(node.Failed)
			if !ok {
				continue
			}
			took := time.Since(cutAt)
			if f.Reason != node.ProbeTimeout {
				t.Fatalf("failed with %v, want ProbeTimeout", f.Reason)
			}
			// The last answer came at most one probe interval before the cut.
			low := cfg.ProbeTimeout - cfg.ProbeInterval - time.Second
			high := cfg.ProbeTimeout + time.Second
			if took < low || took > high {
				t.Fatalf("ProbeTimeout after %v, want within [%v, %v]", took, low, high)
			}
			t.Logf("cut detected after %v", took)
			return
		case <-deadline:
			t.Fatalf("no Failed within %v of the cut", cfg.ProbeTimeout+5*time.Second)
		}
	}
}

// exchange moves n datagrams each way and checks every one arrives, in order
// (loopback neither loses nor reorders unless a buffer overflows).
func exchange(t *testing.T, ctx context.Context, ours *ourSide, pc *ice.Conn, n int) {
	t.Helper()
	payload := func(dir byte, i int) []byte {
		// 'd' keeps the first byte outside STUN's and ChannelData's ranges.
		return []byte{'d', dir, byte(i >> 8), byte(i), 'p', 'e', 'e', 'r'}
	}
	pionGot := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		for i := range n {
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, err := pc.Read(buf)
			if err != nil {
				pionGot <- fmt.Errorf("pion read %d of %d: %w", i, n, err)
				return
			}
			if want := payload('>', i); !bytes.Equal(buf[:k], want) {
				pionGot <- fmt.Errorf("pion got %x, want %x", buf[:k], want)
				return
			}
		}
		pionGot <- nil
	}()
	for i := range n {
		for {
			err := ours.d.Send(ctx, ourConn, payload('>', i))
			if err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		// Pace a little: pion reads through an unpaced goroutine and its
		// socket buffer would overflow under an unbounded burst.
		if i%100 == 99 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := range n {
		if _, err := pc.Write(payload('<', i)); err != nil {
			t.Fatalf("pion write: %v", err)
		}
		if i%100 == 99 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := range n {
		select {
		case got := <-ours.data:
			if want := payload('<', i); !bytes.Equal(got, want) {
				t.Fatalf("peerlink got %x, want %x", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("peerlink received %d of %d datagrams", i, n)
		}
	}
	if err := <-pionGot; err != nil {
		t.Fatal(err)
	}
}
