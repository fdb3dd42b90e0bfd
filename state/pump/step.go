// Package pump is the pure step every peerlink loop takes, the real-time
// driver's (package drivers) and the simulator's host's (sim/host): the
// Node's transmits go into the ordered send queue, the Node's events go to
// the caller, the queue goes to the Conn round by round until the socket
// would block, and the next deadline comes back with its reason. It has no
// goroutine, clock or lock; the caller passes now and owns the Pump on one
// goroutine.
//
// A loop around it is, in any clock:
//
//	s := p.Step(now, onEvent)
//	for {
//		for s.Round != nil || s.Again {  // here, or Round on another goroutine
//			if s.Round != nil {
//				p.Sent(conn.Send(s.Round))
//			}
//			s = p.Step(now, onEvent)
//		}
//		wait until s.Next, a received datagram, a command, or writable;
//		feed it in: HandleTimeout, HandleMessages, Send, SetWritable
//		s = p.Step(now, onEvent)
//	}
package pump

import (
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/timer"
)

// StepResult is what one Step did, and what its caller does next.
type StepResult struct {
	// Round, when not nil, holds the batches for the caller's next
	// Conn.Send: make it (here or on another goroutine), report the answer
	// with Sent, and Step again. Step hands out no round while one is with
	// the caller.
	Round []*gso.Batch
	// Flushed says a flush ended in this Step; Flush is its result and Err
	// the send error it ended on, if any.
	Flushed bool
	Flush   FlushResult
	Err     error
	// Again says the flush ended on a send error while datagrams wait and
	// the socket is not known to be full: Step again now to send them,
	// rather than at the next input.
	Again bool
	// ControlQueued counts the Control datagrams that entered the queue
	// since the last Step, all of them at this Step's now as far as the
	// caller can tell: the simulator times them from here.
	ControlQueued uint64
	// Next is the pump's next deadline, when HasNext: call HandleTimeout
	// then, and Step after it.
	Next    timer.Deadline
	HasNext bool
}

// Step is the one step of every loop, the real-time driver's and the
// simulator's host's alike. Call it after each input (HandleMessages,
// HandleTimeout, Send, a Node command, SetWritable, Sent). In order it
//
//  1. moves the Node's transmits into the queue;
//  2. hands each Node event to onEvent (nil leaves them in the Node), and
//     collects what the commands issued there queued;
//  3. moves the flush on: ends the one Sent finished, or hands out its
//     next round, or starts one unless the socket is full; one that ended
//     in this Step is not followed by another (see Again);
//  4. reports the next deadline and the Control datagrams queued since the
//     last Step.
//
// The caller adds only its clock and its wake-ups: it makes the Conn.Send
// of each Round, waits for the socket after a Blocked flush, and arms a
// timer at Next.
func (p *Pump) Step(now time.Time, onEvent func(node.Event)) StepResult {
	var r StepResult
	p.collect()
	if onEvent != nil {
		for {
			e, ok := p.node.PollEvent()
			if !ok {
				break
			}
			if f, ok := e.(node.RelayFailed); ok {
				p.dropStreamData(f.Server)
			}
			onEvent(e)
			p.collect()
		}
	}
	p.flushStep(now, &r)
	in := p.queue.Stats().Classes[gso.Control].DatagramsIn
	r.ControlQueued, p.controlSeen = in-p.controlSeen, in
	at, reason, ok := p.PollTimeout()
	r.Next, r.HasNext = timer.Deadline{At: at, Reason: reason}, ok
	return r
}

func (p *Pump) flushStep(now time.Time, r *StepResult) {
	if p.round != nil {
		return
	}
	if p.ended {
		p.endFlush(now, r)
		r.Err, p.sendErr, p.ended = p.sendErr, nil, false
		r.Again = r.Err != nil && !p.queue.Empty()
		return
	}
	if !p.flushing {
		if p.blocked {
			return // SetWritable first
		}
		p.fl.start()
		p.flushing = true
	}
	if b := p.fl.next(now, p.queue, p.conn); b != nil {
		p.round, r.Round = b, b
		return
	}
	p.endFlush(now, r)
}

func (p *Pump) endFlush(now time.Time, r *StepResult) {
	r.Flushed, r.Flush = true, p.fl.res
	p.flushing = false
	p.finish(now, p.fl.res)
}

// Sent reports what Conn.Send did with the Round the last Step handed out,
// and returns the send error, if any, for the caller's log. Step next ends
// the flush or hands out its next round. Between Step and Sent the caller
// may give the pump any input (what it queues goes to new batches), and
// call Step, which then hands out no round.
func (p *Pump) Sent(n int, err error) error {
	if p.round == nil {
		panic("pump: Sent without a round out")
	}
	done, err := p.fl.sent(p.queue, p.round, n, err)
	p.round = nil
	if done {
		p.ended, p.sendErr = true, err
	}
	return err
}

// Flush is Step with the Conn called in place and no events delivered, for
// a caller with nothing else to do meanwhile: it sends what is queued until
// the queue is empty, the socket would block, or the kernel budget holds
// Data back. After Blocked, call SetWritable when the socket can take
// more; after DataHeld, PollTimeout says when to flush again.
func (p *Pump) Flush(now time.Time) (FlushResult, error) {
	for {
		s := p.Step(now, nil)
		if s.Round == nil {
			if s.Flushed {
				return s.Flush, s.Err
			}
			return FlushResult{Blocked: p.blocked}, nil
		}
		n, err := p.conn.Send(s.Round)
		p.Sent(n, err)
	}
}
