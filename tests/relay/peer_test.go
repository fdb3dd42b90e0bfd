// Package relay_test connects two peerlink Nodes, each run by the real-time
// driver over a real UDP socket on 127.0.0.1, through real TURN servers:
// pion/turn in this process and coturn as a child process. Their direct
// path is blocked by signalling: each side learns only the other's relay
// candidates, never its host address.
package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/internal/logcheck"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

const (
	conn      node.ConnID = 7
	datagrams             = 1000
)

// relayTimers are short so that a dead relay is reported within seconds:
// a keepalive every 2 s, a request given up after 0.1+0.2+0.4+0.4+0.4 s, so
// LostWithin is 3.5 s.
var relayTimers = turn.Config{
	KeepaliveInterval: 2 * time.Second,
	RequestRTO:        100 * time.Millisecond,
	RequestRTOMax:     400 * time.Millisecond,
	RequestTransmits:  5,
}

// peer is one Node under drivers.Driver over a linux.Conn.
type peer struct {
	name string
	d    *drivers.Driver
	fw   *firewall
	addr netip.AddrPort
	// raw receives every Node event from the driver's goroutine; route
	// forwards signalling and passes the rest to events.
	raw    chan node.Event
	events chan node.Event
	got    [datagrams]atomic.Bool
	count  atomic.Int64
	// sink, when set, receives a copy of every payload instead of the
	// tally (payload_test.go).
	sink atomic.Pointer[chan []byte]
	done chan error
}

func startPeer(t *testing.T, ctx context.Context, name string) *peer {
	t.Helper()
	return startPeerWith(t, ctx, name, relayTimers)
}

// startPeerWith starts a peer whose relays use timers.
func startPeerWith(t *testing.T, ctx context.Context, name string, timers turn.Config) *peer {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := uc.SetReadBuffer(4 << 20); err != nil {
		t.Logf("read buffer: %v", err)
	}
	lc, err := linux.New(uc, linux.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &firewall{Conn: lc}
	p := &peer{fw: c, name: name, addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		raw: make(chan node.Event, 4096), events: make(chan node.Event, 4096), done: make(chan error, 1)}
	p.d, err = drivers.New(c, drivers.Config{
		Node:    node.Config{Relay: timers},
		OnEvent: func(e node.Event) { p.raw <- e },
		OnData:  p.receive,
		Logger:  logcheck.New(t),
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
	if err := p.d.AddLocalAddress(ctx, p.addr); err != nil {
		t.Fatal(err)
	}
	return p
}

// receive tallies datagram numbers; duplicates count once.
func (p *peer) receive(_ node.ConnID, b []byte) {
	if sink := p.sink.Load(); sink != nil {
		*sink <- append([]byte(nil), b...)
		return
	}
	if len(b) < 4 {
		return
	}
	if i := binary.BigEndian.Uint32(b); i < datagrams && !p.got[i].Swap(true) {
		p.count.Add(1)
	}
}

func (p *peer) addRelay(ctx context.Context, s *realturn.Server) error {
	return p.d.Do(ctx, func(now time.Time, pp *pump.Pump) error {
		return pp.Node().AddRelay(now, s.Addr, p.addr, realturn.User, realturn.Password)
	})
}

// route is the application's signalling from p to other: relay candidates
// only (no host candidate, so no direct path), and their withdrawal.
// Everything else goes to p.events for the test.
func (p *peer) route(ctx context.Context, t *testing.T, other *peer) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.raw:
			switch e := e.(type) {
			case node.CandidateGathered:
				if e.Candidate.Type == stunmsg.Relay {
					signal(ctx, t, other, e.Candidate)
				}
			case node.CandidateWithdrawn:
				_ = other.d.Do(ctx, func(now time.Time, pp *pump.Pump) error {
					return pp.Node().RemoveRemoteCandidate(now, e.Conn, e.Candidate.Addr)
				})
			}
			p.events <- e
		}
	}
}

// await returns the first event match accepts, failing the test after d.
func (p *peer) await(t *testing.T, d time.Duration, what string, match func(node.Event) bool) node.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-p.events:
			if match(e) {
				return e
			}
			if f, ok := e.(node.Failed); ok && what != "failed" {
				t.Fatalf("%s: %v while waiting for %s", p.name, f, what)
			}
		case <-timeout:
			t.Fatalf("%s: no %s within %v", p.name, what, d)
		}
	}
}

// signal hands other a candidate of connection conn. Signalling must not
// lose a candidate silently: only a connection that already failed (the
// test then fails on its event) or a finished test may refuse it.
func signal(ctx context.Context, t *testing.T, other *peer, c node.Candidate) {
	err := other.d.AddRemoteCandidate(ctx, conn, c)
	if err != nil && !errors.Is(err, node.ErrConnFailed) && ctx.Err() == nil {
		t.Errorf("%s refused the signalled candidate %v: %v", other.name, c, err)
	}
}

// drainEvents takes the events p received so far.
func (p *peer) drainEvents() []node.Event {
	var evs []node.Event
	for {
		select {
		case e := <-p.events:
			evs = append(evs, e)
		default:
			return evs
		}
	}
}

// sendAll sends datagrams numbered 0..n-1, waiting briefly whenever the
// send queue pushes back.
func (p *peer) sendAll(ctx context.Context, t *testing.T, size int, to *peer) {
	b := make([]byte, size)
	for i := 0; i < datagrams; {
		binary.BigEndian.PutUint32(b, uint32(i))
		err := p.d.Send(ctx, conn, b)
		switch {
		case err == nil:
			i++
			if i%sendWindow == 0 {
				to.waitFor(int64(i))
			}
		case errors.Is(err, gso.ErrQueueFull):
			time.Sleep(time.Millisecond)
		default:
			t.Errorf("%s: send %d: %v", p.name, i, err)
			return
		}
	}
}

// sendWindow is how many datagrams sendAll sends before it waits for them
// to arrive. UDP has no flow control, and the relay is another process:
// paced by time alone (bursts of 10 every 2 ms), the relay's receive buffer
// still overflowed whenever the machine was busy enough to leave it
// unscheduled for longer than the buffer lasted (UDP RcvbufErrors, a few
// percent lost in about one loaded run in ten). A window of 50 datagrams
// of at most 1000 bytes fits any socket's default buffer, so nothing can
// overflow however long a process waits for a core; a datagram lost in
// the window still shows as a missing one.
const sendWindow = 50

// waitFor waits until p has received n distinct datagrams, or a while.
func (p *peer) waitFor(n int64) {
	for end := time.Now().Add(5 * time.Second); p.count.Load() < n && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
}

func seeded(n uint64) *rand.Rand { return rand.New(rand.NewPCG(n, n)) }

// kernelUDPReceiveDrops reads the kernel's count of UDP datagrams dropped
// for a full receive buffer (RcvbufErrors in /proc/net/snmp), for failure
// messages: a loss the kernel counted is not one peerlink made. It returns
// 0 where the file cannot be read.
func kernelUDPReceiveDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}
