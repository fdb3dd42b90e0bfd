package drivers

import (
	"context"
	"errors"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// request is one command to the loop: a function (Do) or payloads to send
// (Send, SendBatch). Each driver keeps its spent requests, with their reply
// channels, for reuse, so a command costs no allocation.
type request struct {
	fn       func(now time.Time, p *pump.Pump) error
	id       node.ConnID
	payloads [][]byte
	one      [1][]byte // Send's payloads, without a slice to allocate
	accepted int
	reply    chan error
}

// spareRequests is how many spent requests a driver keeps: one for each
// command that may wait for the loop, and as many callers again waiting
// for room.
const spareRequests = 2 * maxCommands

// getRequest returns a spent request of d's, or a new one.
//
// Why not a sync.Pool: a request that outlives a stopped driver's loop
// (its caller gave up on d.done) may still get that driver's ErrStopped
// reply late; kept by its own driver, it can only ever answer a command to
// that stopped driver, for which ErrStopped is right. A pool would hand it
// to another driver. And a pool's per-CPU slots miss when the caller
// moved to the other CPU, which allocates.
func (d *Driver) getRequest() *request {
	select {
	case r := <-d.spare:
		return r
	default:
		return &request{reply: make(chan error, 1)}
	}
}

// putRequest keeps r for reuse. The loop is done with it: call returns
// only after the loop replied, or after the loop stopped.
func (d *Driver) putRequest(r *request) {
	r.fn, r.payloads, r.accepted = nil, nil, 0
	select {
	case d.spare <- r:
	default:
	}
}

// call hands r to the loop and waits for its reply. Once the loop has r it
// is not abandoned (ctx only bounds the hand-over), so the pool never
// hands out a request the loop may still write.
//
// The hand-over almost always finds room in the queue of commands. Then
// the reply is awaited on r's channel alone: Run, when it stops, answers
// every command still queued (stopCommands), and the read lock keeps a
// command from being queued after that. Selecting on d.done as well would
// lock that channel, which every caller shares, on every call.
func (d *Driver) call(ctx context.Context, r *request) error {
	d.handoff.RLock()
	if d.stopped {
		d.handoff.RUnlock()
		return ErrStopped
	}
	select {
	case d.cmds <- r:
		d.handoff.RUnlock()
		return <-r.reply
	default:
	}
	d.handoff.RUnlock()
	select {
	case d.cmds <- r:
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.reply:
		return err
	case <-d.done:
		// Run may have run the command just before it stopped.
		select {
		case err := <-r.reply:
			return err
		default:
			return ErrStopped
		}
	}
}

// stopCommands runs when Run stops: no command is queued after it, and
// every one still queued is answered ErrStopped, so that a caller waiting
// on its reply alone returns.
func (d *Driver) stopCommands() {
	d.handoff.Lock()
	d.stopped = true
	d.handoff.Unlock()
	for {
		select {
		case r := <-d.cmds:
			r.reply <- ErrStopped
		default:
			return
		}
	}
}

// serve runs one request on the loop's goroutine, replies, and returns how
// many payloads it carried. A refusal for back-pressure opens the wait
// WaitWritable blocks on before the caller can see the refusal. After the
// reply r is the caller's again (and soon the pool's): serve must not
// touch it.
func (d *Driver) serve(now time.Time, r *request) (payloads int) {
	payloads = len(r.payloads)
	// Only the loop writes d.room, so it reads it without the lock.
	if d.room == nil {
		// Nobody waits: earlier refusals (of Data the Node made itself,
		// or of a writer since released) must not make this one wait on
		// a place it did not use.
		d.pump.ForgetRefusals()
	}
	var err error
	if r.fn != nil {
		err = r.fn(now, d.pump)
	} else {
		r.accepted, err = d.pump.SendBatch(now, r.id, r.payloads)
	}
	if errors.Is(err, gso.ErrQueueFull) {
		d.mu.Lock()
		if d.room == nil {
			d.room = make(chan struct{})
		}
		d.mu.Unlock()
	}
	r.reply <- err
	return payloads
}

// releaseWriters wakes WaitWritable once the pump takes Data again where
// it refused it (pump.Pump.Writable).
func (d *Driver) releaseWriters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.room != nil && d.pump.Writable() {
		close(d.room)
		d.room = nil
	}
}
