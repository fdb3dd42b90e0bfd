package drivers

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// gatedConn is a Linux Conn whose sends the test can stop: while the gate
// is shut every send would block, as a full socket's does, and
// WaitWritable waits for the gate.
type gatedConn struct {
	*linux.Conn
	shut atomic.Bool
	open chan struct{}
}

func (c *gatedConn) Send(batches []*gso.Batch) (int, error) {
	if c.shut.Load() {
		return 0, pump.ErrWouldBlock
	}
	return c.Conn.Send(batches)
}

func (c *gatedConn) WaitWritable() error {
	<-c.open
	return nil
}

// SendBatch takes a prefix of the payloads and refuses the rest with
// back-pressure; WaitWritable blocks while the queue cannot drain and
// returns once it has; the program resends the rest and the receiver gets
// every payload once, in order.
func TestSendBatchBackPressureLosesNothingAndWaitWritableWakesTheSender(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gate := &gatedConn{open: make(chan struct{})}
	a, _ := startPeerWith(t, ctx, func(c *linux.Conn) pump.Conn { gate.Conn = c; return gate }, nil, 64<<10)
	b, _ := startPeer(t, ctx)
	connectPeers(t, ctx, a, b)

	const count, size = 3000, 100
	payloads := make([][]byte, count)
	for i := range payloads {
		payloads[i] = make([]byte, size)
		binary.BigEndian.PutUint32(payloads[i], uint32(i))
	}
	gate.shut.Store(true)
	accepted, err := a.d.SendBatch(ctx, 1, payloads)
	if !errors.Is(err, gso.ErrQueueFull) || accepted == 0 || accepted >= count {
		t.Fatalf("SendBatch into a blocked socket: accepted %d of %d, %v", accepted, count, err)
	}
	// While nothing can drain the wait does not end: with a context
	// already cancelled it returns the context's error, not nil.
	cancelled, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if err := a.d.WaitWritable(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitWritable with nothing drained: %v, want context.Canceled", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- a.d.WaitWritable(ctx) }()
	gate.shut.Store(false)
	close(gate.open)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	for rest := payloads[accepted:]; len(rest) > 0; {
		n, err := a.d.SendBatch(ctx, 1, rest)
		rest = rest[n:]
		switch {
		case errors.Is(err, gso.ErrQueueFull):
			if err := a.d.WaitWritable(ctx); err != nil {
				t.Fatal(err)
			}
		case err != nil:
			t.Fatal(err)
		}
	}
	for i := range count {
		select {
		case got := <-b.data:
			if n := binary.BigEndian.Uint32(got); n != uint32(i) {
				t.Fatalf("payload %d arrived as %d", i, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d payloads arrived", i, count)
		}
	}
}

// The batch path allocates nothing per payload: the request is pooled, each
// payload is copied into the queue's pooled buffers, and the loop's flush
// reuses its slices. 64 payloads a call, so fewer than one allocation a
// call (AllocsPerRun rounds down) is zero per payload.
func TestSendBatchAllocatesNothingPerPayload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var received atomic.Uint64
	a, _ := startPeer(t, ctx)
	b, _ := startPeerWith(t, ctx, nil, func(node.ConnID, []byte) { received.Add(1) }, 0)
	connectPeers(t, ctx, a, b)
	payloads := make([][]byte, 64)
	for i := range payloads {
		payloads[i] = make([]byte, 1200)
	}
	send := func() {
		for rest := payloads; len(rest) > 0; {
			n, err := a.d.SendBatch(ctx, 1, rest)
			rest = rest[n:]
			if errors.Is(err, gso.ErrQueueFull) {
				// Back-pressure: the loop sends slower than this loop
				// queues. Waiting costs an allocation per episode, not
				// per payload.
				err = a.d.WaitWritable(ctx)
			}
			if err != nil {
				t.Fatalf("SendBatch: %v", err)
			}
		}
	}
	for range 50 {
		send() // warm the pools
	}
	if allocs := testing.AllocsPerRun(200, send); allocs != 0 && !raceEnabled {
		t.Errorf("%.0f allocations per SendBatch of %d payloads", allocs, len(payloads))
	}
	s, err := a.d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Conn.OffloadMessages == 0 {
		t.Errorf("no GSO send: batches of 64 payloads left one datagram at a time: %+v", s.Conn)
	}
}

// countingConn records the most Data segments one batch carried.
type countingConn struct {
	*linux.Conn
	maxSegments atomic.Int64
}

func (c *countingConn) Send(batches []*gso.Batch) (int, error) {
	for _, b := range batches {
		if n := int64(b.Segments()); b.Class() == gso.Data && n > c.maxSegments.Load() {
			c.maxSegments.Store(n)
		}
	}
	return c.Conn.Send(batches)
}

// Sends from concurrent callers that wait for the loop at the same moment
// are taken together before the flush, so they leave as one GSO batch.
func TestConcurrentSendsShareOneGSOBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc := &countingConn{}
	a, _ := startPeerWith(t, ctx, func(c *linux.Conn) pump.Conn { cc.Conn = c; return cc }, nil, 0)
	b, _ := startPeer(t, ctx)
	connectPeers(t, ctx, a, b)

	const senders = 32
	// Hold the loop in a command until every sender's payload waits.
	errs := make(chan error, senders)
	held := make(chan struct{})
	go func() {
		errs <- a.d.Do(ctx, func(time.Time, *pump.Pump) error {
			close(held)
			for len(a.d.cmds) < senders {
				runtime.Gosched()
			}
			return nil
		})
	}()
	<-held
	for i := range senders {
		go func() { errs <- a.d.Send(ctx, 1, []byte{byte(i), 'x'}) }()
	}
	for range senders + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Send returns before the flush: wait for the payloads to arrive.
	for range senders {
		select {
		case <-b.data:
		case <-time.After(5 * time.Second):
			t.Fatal("a payload did not arrive")
		}
	}
	if got := cc.maxSegments.Load(); got != senders {
		t.Fatalf("the largest Data batch carried %d segments; %d concurrent sends should share one", got, senders)
	}
}
