package drivers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/peerlink/peerlink/drivers/pump"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/turn"
)

// retryUnwaitable is how long a Conn that reported would-block, but cannot
// say when it is writable again, is left before the next try.
const retryUnwaitable = time.Millisecond

// ErrAlreadyRunning: Run was called twice.
var ErrAlreadyRunning = errors.New("drivers: already running")

// Run drives the Node until ctx is cancelled or the Conn fails, then closes
// the Conn and waits for its goroutines: nothing outlives Run. It returns
// nil after cancellation and the receive error otherwise.
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return ErrAlreadyRunning
	}
	d.running = true
	d.mu.Unlock()

	var wg sync.WaitGroup
	recvErr := make(chan error, 1)
	for range cap(d.free) {
		d.free <- d.newBuffers()
	}
	d.roam = roamState{wg: &wg, errs: recvErr}
	d.startReceiver() // roam.go: Rebind starts the next one
	waiting := false
	defer func() {
		close(d.done)
		d.conn.Close()
		wg.Wait()
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.arm(timer, time.Now())
		var err error
		select {
		case <-ctx.Done():
			d.log.Info("driver stopping", KeyReason, context.Cause(ctx).Error())
			return nil
		case err = <-recvErr:
			d.log.Error("receive failed", KeyErr, err.Error())
			return err
		case msgs := <-d.received:
			d.pump.HandleMessages(time.Now(), msgs, d.cfg.OnData)
			d.free <- msgs[:cap(msgs)]
		case <-timer.C:
			d.pump.HandleTimeout(time.Now())
		case c := <-d.cmds:
			c.reply <- c.fn(time.Now(), d.pump)
		case err = <-d.writable:
			waiting = false
			if err != nil {
				d.log.Warn("waiting for the socket to drain failed", KeyErr, err.Error())
			}
			d.pump.SetWritable()
		}
		d.deliverEvents()
		d.flush(time.Now())
		if d.pump.WantsWritable() && !waiting {
			if w, ok := d.conn.(Writable); ok {
				waiting = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.writable <- w.WaitWritable()
				}()
			} else {
				// A Conn that blocks in Send never reports would-block;
				// one that does without a way to wait is retried shortly.
				waiting = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					select {
					case <-time.After(retryUnwaitable):
					case <-d.done:
					}
					d.writable <- nil
				}()
			}
		}
	}
}

// arm sets the timer to the pump's next deadline.
func (d *Driver) arm(t *time.Timer, now time.Time) {
	at, _, ok := d.pump.PollTimeout()
	wait := time.Hour
	if ok {
		wait = max(at.Sub(now), 0)
	}
	t.Reset(wait)
}

func (d *Driver) flush(now time.Time) {
	if _, err := d.pump.Flush(now); err != nil {
		d.log.Warn("send failed", KeyErr, err.Error())
	}
}

func (d *Driver) deliverEvents() {
	for {
		e, ok := d.pump.Node().PollEvent()
		if !ok {
			return
		}
		d.logEvent(e)
		if d.cfg.OnEvent != nil {
			d.cfg.OnEvent(e)
		}
	}
}

func (d *Driver) logEvent(e node.Event) {
	level := slog.LevelDebug
	attrs := []any{KeyEvent, eventName(e)}
	switch e := e.(type) {
	case node.Connected:
		level = slog.LevelInfo
		attrs = append(attrs, KeyConn, uint64(e.Conn), KeyPath, e.Path.String())
	case node.PathChanged:
		level = slog.LevelInfo
		attrs = append(attrs, KeyConn, uint64(e.Conn), KeyPath, e.Path.String())
	case node.Closed:
		level = slog.LevelInfo
		attrs = append(attrs, KeyConn, uint64(e.Conn))
	case node.Failed:
		level = slog.LevelWarn
		if e.Reason == node.Internal {
			level = slog.LevelError // a bug in peerlink, never the network
		}
		attrs = append(attrs, KeyConn, uint64(e.Conn), KeyReason, e.Reason.String())
	case node.RelayLostEvent:
		// A lost relay is the application's to act on (AddRelay again);
		// the connections on it moved or failed, each logged on its own.
		level = slog.LevelWarn
		if e.Reason == turn.LostInternal {
			level = slog.LevelError
		}
		attrs = append(attrs, KeyRelay, e.Server.String(), KeyReason, e.Reason.String(), KeyCode, e.Code)
	default:
		attrs = append(attrs, KeyConn, uint64(e.ConnID()), KeyDetail, e.String())
	}
	d.log.Log(context.Background(), level, "connection event", attrs...)
}

// eventName is the stable name of an event in logs (the "event" field).
func eventName(e node.Event) string {
	switch e.(type) {
	case node.CandidateGathered:
		return "candidate-gathered"
	case node.CandidateWithdrawn:
		return "candidate-withdrawn"
	case node.Connected:
		return "connected"
	case node.PathChanged:
		return "path-changed"
	case node.RoleChanged:
		return "role-changed"
	case node.Failed:
		return "failed"
	case node.Closed:
		return "closed"
	case node.RelayLostEvent:
		return "relay-lost"
	}
	return "unknown"
}

func (d *Driver) newBuffers() []pump.Message {
	msgs := make([]pump.Message, d.cfg.RecvMessages)
	for i := range msgs {
		msgs[i].Buf = make([]byte, d.cfg.RecvBufferSize)
	}
	return msgs
}

// receive runs on its own goroutine: it fills free buffers from c and
// hands them to the loop, until c fails or closes.
func (d *Driver) receive(c pump.Conn) error {
	for {
		var msgs []pump.Message
		select {
		case msgs = <-d.free:
		case <-d.done:
			return nil
		}
		n, err := c.Recv(msgs)
		if err != nil {
			d.free <- msgs // for the next receiver, after a Rebind
			select {
			case <-d.done:
				return nil // closed by Run's exit
			default:
			}
			return err
		}
		select {
		case d.received <- msgs[:n]:
		case <-d.done:
			return nil
		}
	}
}
