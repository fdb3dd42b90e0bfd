// Package turn_test drives peerlink's sans-IO TURN client over real UDP
// sockets on loopback against real TURN servers: pion/turn in-process and
// coturn as a child process.
package turn_test

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
)

// runner is a tiny real-time loop around one turn.Client: one goroutine
// reads the socket with the read deadline set to the client's next
// deadline; commands from the test take the same lock and flush what they
// caused at once. It is what a driver does, cut down to a test helper.
type runner struct {
	t    *testing.T
	conn *net.UDPConn
	addr netip.AddrPort

	mu sync.Mutex
	c  *turn.Client

	events chan turn.Event
	data   chan inbound
	done   chan struct{}
	// signedAllocates counts Allocate requests that carried credentials.
	signedAllocates atomic.Int32
}

type inbound struct {
	peer    netip.AddrPort
	payload []byte
	at      time.Time
}

// clientSetup is what a runner's client is made from: the relay and
// credentials (the runner adds its local address and Rand) and the timers.
type clientSetup struct {
	id  turn.Identity
	cfg turn.Config
}

// testConfig has short schedules so that failures show within seconds.
func testConfig(server netip.AddrPort, user, password string) clientSetup {
	return clientSetup{
		id: turn.Identity{Server: server, Username: user, Password: password},
		cfg: turn.Config{
			KeepaliveInterval: time.Second,
			RequestRTO:        100 * time.Millisecond,
			RequestRTOMax:     400 * time.Millisecond,
			RequestTransmits:  5,
		},
	}
}

func newSeededRand() *rand.Rand {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(err)
	}
	return rand.New(rand.NewChaCha8(seed))
}

func startRunner(t *testing.T, cfg clientSetup) *runner {
	t.Helper()
	return startRunnerAt(t, cfg, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
}

// startRunnerAt is startRunner on the local address at (port 0: any).
func startRunnerAt(t *testing.T, cfg clientSetup, at netip.AddrPort) *runner {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
	if err != nil {
		t.Fatal(err)
	}
	return startRunnerOn(t, cfg, conn)
}

// startRunnerOn is startRunner on a socket the test opened.
func startRunnerOn(t *testing.T, cfg clientSetup, conn *net.UDPConn) *runner {
	t.Helper()
	var err error
	if err := conn.SetReadBuffer(4 << 20); err != nil {
		t.Logf("read buffer: %v", err)
	}
	r := &runner{t: t, conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan turn.Event, 1024), data: make(chan inbound, 8192), done: make(chan struct{})}
	cfg.id.Local = r.addr
	cfg.id.Rand = newSeededRand()
	if r.c, err = turn.New(time.Now(), cfg.id, cfg.cfg); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.flushLocked()
	r.mu.Unlock()
	go r.loop()
	t.Cleanup(r.drop)
	return r
}

// drop closes the socket and stops the loop, without a word to the
// server: what it allocated stays there, as when a program is killed.
func (r *runner) drop() {
	r.conn.Close()
	<-r.done
}

func (r *runner) loop() {
	defer close(r.done)
	buf := make([]byte, 1<<16)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil && !isTimeout(err) {
			return // closed
		}
		r.mu.Lock()
		now := time.Now()
		if err == nil {
			if _, peer, payload := r.c.HandleDatagram(now, from, buf[:n]); payload != nil {
				r.data <- inbound{peer: peer, payload: append([]byte(nil), payload...), at: now}
			}
		}
		if d, _, ok := r.c.PollTimeout(); ok && !d.After(now) {
			r.c.HandleTimeout(now)
		}
		r.flushLocked()
		r.mu.Unlock()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// flushLocked sends what the client queued, hands its events to the test
// and moves the read deadline to the client's next deadline.
func (r *runner) flushLocked() {
	for tr, ok := r.c.PollTransmit(); ok; tr, ok = r.c.PollTransmit() {
		if isSignedAllocate(tr.Payload) {
			r.signedAllocates.Add(1)
		}
		if _, err := r.conn.WriteToUDPAddrPort(tr.Payload, tr.Dst); err != nil {
			r.t.Logf("send: %v", err)
		}
	}
	for e, ok := r.c.PollEvent(); ok; e, ok = r.c.PollEvent() {
		r.events <- e
	}
	deadline := time.Now().Add(time.Second)
	if d, _, ok := r.c.PollTimeout(); ok {
		deadline = d
	}
	_ = r.conn.SetReadDeadline(deadline)
}

// do runs a command on the client under the loop's lock.
func (r *runner) do(f func(c *turn.Client, now time.Time) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := f(r.c, time.Now())
	r.flushLocked()
	return err
}

// send relays payload to peer through the client's allocation.
func (r *runner) send(peer netip.AddrPort, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr, err := r.c.Send(time.Now(), peer, payload)
	if err != nil {
		return err
	}
	_, err = r.conn.WriteToUDPAddrPort(tr.Payload, tr.Dst)
	return err
}

func (r *runner) stats() turn.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c.Stats()
}

// waitEvent returns the first event of kind within d, failing the test on
// an unexpected EventLost.
func (r *runner) waitEvent(kind turn.EventKind, d time.Duration) turn.Event {
	r.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-r.events:
			if e.Kind == kind {
				return e
			}
			if e.Kind == turn.EventLost {
				r.t.Fatalf("relay lost while waiting for %v: %+v", kind, e)
			}
		case <-timeout:
			r.t.Fatalf("no %v event within %v", kind, d)
		}
	}
}

// isSignedAllocate reports whether b is an Allocate request carrying
// MESSAGE-INTEGRITY, walking the STUN attributes by hand.
func isSignedAllocate(b []byte) bool {
	if len(b) < 20 || binary.BigEndian.Uint16(b[0:2]) != 0x0003 {
		return false
	}
	for off := 20; off+4 <= len(b); {
		typ, n := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
		if typ == 0x0008 {
			return true
		}
		off += 4 + (n+3)&^3
	}
	return false
}
