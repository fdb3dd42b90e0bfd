package bench

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// e2ePair is what a program gets: two Drivers with the default
// configuration (Node, send queue, pump, kernel budget, Linux Conn) on
// loopback, connected through the ICE checks. The receiver counts OnData.
type e2ePair struct {
	tx, rx   *drivers.Driver
	received atomic.Uint64
	cancel   context.CancelFunc
	done     chan struct{}
}

const e2eConn node.ConnID = 1

// e2eBatch is how many payloads one SendBatch call carries: wireguard-go's
// batch (its StdNetBind.BatchSize), so both hand the kernel the same.
var e2eBatch = flag.Int("drivers.e2e-batch", 128, "payloads per SendBatch call in the drivers-e2e batch case")

func newE2EPair(b *testing.B) *e2ePair {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &e2ePair{cancel: cancel, done: make(chan struct{})}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	events := [2]chan node.Event{make(chan node.Event, 64), make(chan node.Event, 64)}
	var ds [2]*drivers.Driver
	var addrs [2]netip.AddrPort
	running := make(chan struct{}, 2)
	for i := range ds {
		uc := listenLoopback(b)
		if i == 1 {
			// As the sink's: a receiving program sets a deep buffer, or
			// loopback drops what arrives while its loop waits for a CPU.
			deepReceiveBuffer(uc)
		}
		addrs[i] = uc.LocalAddr().(*net.UDPAddr).AddrPort()
		c, err := linux.New(uc, linux.Config{})
		if err != nil {
			b.Fatal(err)
		}
		cfg := drivers.Config{Logger: quiet, OnEvent: func(e node.Event) { events[i] <- e }}
		if i == 1 {
			cfg.OnData = func(node.ConnID, []byte) { p.received.Add(1) }
		}
		if ds[i], err = drivers.New(c, cfg); err != nil {
			b.Fatal(err)
		}
		go func() { ds[i].Run(ctx); running <- struct{}{} }()
	}
	go func() { <-running; <-running; close(p.done) }()
	p.tx, p.rx = ds[0], ds[1]
	creds := [2]node.Credentials{
		{Ufrag: "benchtx0", Pwd: "benchtxbenchtxbenchtx000"},
		{Ufrag: "benchrx0", Pwd: "benchrxbenchrxbenchrx000"},
	}
	roles := [2]node.Role{node.Controlling, node.Controlled}
	for i, d := range ds {
		if err := d.AddLocalAddress(ctx, addrs[i]); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Connect(ctx, e2eConn, roles[i], creds[i], creds[1-i]); err != nil {
			b.Fatal(err)
		}
	}
	timeout := time.After(10 * time.Second)
	for connected := 0; connected < 2; {
		var e node.Event
		var from int
		select {
		case e = <-events[0]:
		case e = <-events[1]:
			from = 1
		case <-timeout:
			b.Fatal("the drivers did not connect within 10 s")
		}
		switch e := e.(type) {
		case node.CandidateGathered:
			if err := ds[1-from].AddRemoteCandidate(ctx, e2eConn, e.Candidate); err != nil {
				b.Fatal(err)
			}
		case node.Connected:
			connected++
		case node.Failed:
			b.Fatalf("connection failed: %v", e)
		}
	}
	// Events after this are not read; the callback must not block.
	for i := range events {
		go func() {
			for {
				select {
				case <-events[i]:
				case <-p.done:
					return
				}
			}
		}()
	}
	return p
}

func (p *e2ePair) close() {
	p.cancel()
	<-p.done
}

// e2eResult is one run of a sender through the public API.
type e2eResult struct {
	accepted, delivered uint64
	rate                float64 // delivered datagrams per second
}

// run has send push size-byte payloads for dur and counts what the
// receiver delivered, waiting for the tail in flight.
func (p *e2ePair) run(b *testing.B, size int, dur time.Duration, send func(ctx context.Context, payloads [][]byte) uint64) e2eResult {
	payloads := make([][]byte, *e2eBatch)
	for i := range payloads {
		payloads[i] = datagram(size)
	}
	before := p.received.Load()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	start := time.Now()
	accepted := send(ctx, payloads)
	cancel()
	// The tail: what the sender was told was accepted is on its way.
	last, lastAt := p.received.Load(), time.Now()
	for time.Since(lastAt) < 20*time.Millisecond && p.received.Load()-before < accepted {
		time.Sleep(time.Millisecond)
		if n := p.received.Load(); n != last {
			last, lastAt = n, time.Now()
		}
	}
	delivered := p.received.Load() - before
	return e2eResult{accepted, delivered, float64(delivered) / time.Since(start).Seconds()}
}

// sendEach is a program calling Driver.Send for every payload, waiting on
// WaitWritable when pushed back.
func (p *e2ePair) sendEach(b *testing.B) func(context.Context, [][]byte) uint64 {
	return func(ctx context.Context, payloads [][]byte) uint64 {
		var n uint64
		for ctx.Err() == nil {
			for _, pl := range payloads {
				err := p.tx.Send(ctx, e2eConn, pl)
				if errors.Is(err, gso.ErrQueueFull) {
					err = p.tx.WaitWritable(ctx)
				} else if err == nil {
					n++
				}
				if err != nil {
					if ctx.Err() != nil {
						return n
					}
					b.Fatal(err)
				}
			}
		}
		return n
	}
}

// sendBatches is a program calling Driver.SendBatch with e2eBatch payloads,
// waiting on WaitWritable when pushed back.
func (p *e2ePair) sendBatches(b *testing.B) func(context.Context, [][]byte) uint64 {
	return func(ctx context.Context, payloads [][]byte) uint64 {
		var n uint64
		for ctx.Err() == nil {
			rest := payloads
			for len(rest) > 0 {
				k, err := p.tx.SendBatch(ctx, e2eConn, rest)
				rest = rest[k:]
				n += uint64(k)
				if errors.Is(err, gso.ErrQueueFull) {
					err = p.tx.WaitWritable(ctx)
				}
				if err != nil {
					if ctx.Err() != nil {
						return n
					}
					b.Fatal(err)
				}
			}
		}
		return n
	}
}
