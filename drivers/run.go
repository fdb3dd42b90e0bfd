package drivers

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
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
		d.stopCommands()
		d.conn.Close()
		wg.Wait()
		d.streamWG.Wait()
	}()

	// The sending goroutine makes the Conn.Send calls of a flush, one
	// round at a time, so that the loop takes commands and received
	// datagrams while the kernel copies the last round.
	rounds := make(chan []*gso.Batch)
	results := make(chan sendResult, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.sendRounds(rounds, results)
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	step := d.step(rounds)
	for {
		d.arm(timer, step, time.Now())
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
		case m := <-d.streams.in:
			d.handleStream(m)
		case <-d.streams.room:
			// flushStreams below moves on what waited.
			d.pump.StreamRoom()
		case <-timer.C:
			d.pump.HandleTimeout(time.Now())
		case r := <-d.cmds:
			d.serveWaiting(r)
		case r := <-results:
			if err := d.pump.Sent(r.n, r.err); err != nil {
				d.log.Warn("send failed", KeyErr, err.Error())
			}
		case err = <-d.writable:
			waiting = false
			if err != nil {
				d.log.Warn("waiting for the socket to drain failed", KeyErr, err.Error())
			}
			d.pump.SetWritable()
		}
		step = d.step(rounds)
		d.flushStreams()
		d.releaseWriters()
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

type sendResult struct {
	n   int
	err error
}

// step runs the pump's step, the loop's one step after any input: events
// go to OnEvent, and a round the step hands out goes to the sending
// goroutine, which is idle then (the pump hands out no round while one is
// out). After a send error with datagrams left it steps again at once.
func (d *Driver) step(rounds chan<- []*gso.Batch) pump.StepResult {
	for {
		s := d.pump.Step(time.Now(), d.onEvent)
		if s.Round != nil {
			rounds <- s.Round
		}
		if !s.Again {
			return s
		}
	}
}

// sendRounds runs on its own goroutine: it hands each round to the Conn and
// returns the Conn's answer, until the driver stops.
func (d *Driver) sendRounds(rounds <-chan []*gso.Batch, results chan<- sendResult) {
	for {
		select {
		case b := <-rounds:
			d.mu.Lock() // Rebind may swap the Conn between rounds
			c := d.conn
			d.mu.Unlock()
			n, err := c.Send(b)
			results <- sendResult{n, err}
		case <-d.done:
			return
		}
	}
}

// serveWaiting serves r and every command already waiting before the loop
// flushes, so that concurrent senders share the flush and its GSO batches.
// A program that calls Send in a loop is one command behind: while fewer
// than a GSO batch of payloads (yieldPayloads) came in, the loop yields
// after a send, so that such a caller, woken by the reply, can hand over
// its next payload before the flush. The yield ends the batch when nobody
// sends again, and costs a scheduler pass, not a timer.
func (d *Driver) serveWaiting(r *request) {
	now := time.Now()
	payloads := d.serve(now, r)
	for range maxCommands - 1 {
		select {
		case r = <-d.cmds:
		default:
			if payloads == 0 || payloads >= yieldPayloads {
				return
			}
			runtime.Gosched()
			select {
			case r = <-d.cmds:
			default:
				return
			}
		}
		payloads += d.serve(now, r)
	}
}

// arm sets the timer to the step's next deadline.
func (d *Driver) arm(t *time.Timer, s pump.StepResult, now time.Time) {
	wait := time.Hour
	if s.HasNext {
		wait = max(s.Next.At.Sub(now), 0)
	}
	t.Reset(wait)
}

func (d *Driver) onEvent(e node.Event) {
	d.logEvent(e)
	if d.cfg.OnEvent != nil {
		d.cfg.OnEvent(e)
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
	case node.RelayFailed:
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
	case node.RelayFailed:
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
