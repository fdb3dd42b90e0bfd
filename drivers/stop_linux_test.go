package drivers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// TestCommandsQueuedWhenRunStopsReturnErrStopped: callers whose commands
// were still queued when Run stopped are answered, not left waiting, and
// commands after the stop are refused at once.
func TestCommandsQueuedWhenRunStopsReturnErrStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, done := startPeer(t, ctx)
	// Hold the loop inside a command while others queue up behind it.
	inside, release := make(chan struct{}), make(chan struct{})
	go p.d.Do(context.Background(), func(time.Time, *pump.Pump) error {
		close(inside)
		<-release
		return nil
	})
	<-inside
	// Some queue, the rest wait for room. The loop takes up to
	// maxCommands at a time, and after each take it picks the cancellation
	// or the next commands at random, so with this many it stops with
	// commands queued all but once in 256 runs.
	const callers = 8 * maxCommands
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.d.Send(context.Background(), 1, []byte{1})
		}()
	}
	for len(p.d.cmds) < maxCommands {
		time.Sleep(time.Millisecond) // until the queue is full
	}
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		// Not a timing assertion: without the answer they never return.
		t.Fatal("callers whose commands were queued at the stop still wait")
	}
	close(errs)
	stopped := 0
	for err := range errs {
		switch {
		case errors.Is(err, ErrStopped):
			stopped++
		case errors.Is(err, node.ErrUnknownConn): // served before the stop
		default:
			t.Fatalf("Send: %v", err)
		}
	}
	t.Logf("%d of %d callers answered ErrStopped", stopped, callers)
	if err := p.d.Send(context.Background(), 1, []byte{1}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send after the stop = %v; want ErrStopped", err)
	}
}
