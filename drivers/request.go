package drivers

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// request is one command to the loop: a function (Do) or payloads to send
// (Send, SendBatch). Requests are pooled with their reply channel, so a
// command costs no allocation.
type request struct {
	fn       func(now time.Time, p *pump.Pump) error
	id       node.ConnID
	payloads [][]byte
	one      [1][]byte // Send's payloads, without a slice to allocate
	accepted int
	reply    chan error
}

var requests = sync.Pool{New: func() any { return &request{reply: make(chan error, 1)} }}

func getRequest() *request { return requests.Get().(*request) }

// putRequest returns r to the pool. The loop is done with it: call returns
// only after the loop replied, or after the loop stopped.
func putRequest(r *request) {
	r.fn, r.payloads, r.accepted = nil, nil, 0
	requests.Put(r)
}

// call hands r to the loop and waits for its reply. Once the loop has r it
// is not abandoned (ctx only bounds the hand-over), so the pool never
// hands out a request the loop may still write.
func (d *Driver) call(ctx context.Context, r *request) error {
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

// serve runs one request on the loop's goroutine, replies, and returns how
// many payloads it carried. A refusal for back-pressure opens the wait
// WaitWritable blocks on before the caller can see the refusal. After the
// reply r is the caller's again (and soon the pool's): serve must not
// touch it.
func (d *Driver) serve(now time.Time, r *request) (payloads int) {
	payloads = len(r.payloads)
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

// releaseWriters wakes WaitWritable once the pump takes Data again.
func (d *Driver) releaseWriters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.room != nil && d.pump.DataWritable() {
		close(d.room)
		d.room = nil
	}
}
