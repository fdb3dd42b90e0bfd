package pump

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/peerlink/peerlink/state/gso"
)

func TestStepHandsOutOneRoundAtATimeAndEndsTheFlushAfterItsAnswer(t *testing.T) {
	c := &fakeConn{room: 100}
	p := newTestPump(t, c, 0)
	enqueue(t, p, gso.Control, 2)
	s := p.Step(t0, nil)
	if len(s.Round) != 1 || s.Round[0].Segments() != 2 || s.Flushed {
		t.Fatalf("first step: round %v, flushed %v", s.Round, s.Flushed)
	}
	// While the round is out, input still goes in, and no second round
	// comes out.
	enqueue(t, p, gso.Control, 1)
	if s := p.Step(t0, nil); s.Round != nil || s.Flushed {
		t.Fatalf("a step with a round out: round %v, flushed %v", s.Round, s.Flushed)
	}
	if err := p.Sent(2, nil); err != nil {
		t.Fatal(err)
	}
	s = p.Step(t0, nil)
	if len(s.Round) != 1 || s.Round[0].Segments() != 1 {
		t.Fatalf("after the answer: round %v, want the datagram queued meanwhile", s.Round)
	}
	p.Sent(1, nil)
	s = p.Step(t0, nil)
	if s.Round != nil || !s.Flushed || s.Flush.Datagrams != 3 || s.Err != nil || !p.Queue().Empty() {
		t.Fatalf("the flush did not end with 3 datagrams: %+v", s)
	}
}

func TestStepCountsTheControlQueuedSinceTheLastStep(t *testing.T) {
	c := &fakeConn{room: 0} // would-block: nothing leaves
	p := newTestPump(t, c, 0)
	enqueue(t, p, gso.Control, 3)
	enqueue(t, p, gso.Data, 2)
	s := p.Step(t0, nil)
	if s.ControlQueued != 3 {
		t.Fatalf("ControlQueued %d, want 3", s.ControlQueued)
	}
	p.Sent(c.Send(s.Round))
	if s = p.Step(t0, nil); s.ControlQueued != 0 || !s.Flushed || !s.Flush.Blocked {
		t.Fatalf("second step: %+v, want nothing new queued and a blocked flush", s)
	}
	enqueue(t, p, gso.Control, 1)
	if s = p.Step(t0, nil); s.ControlQueued != 1 || s.Round != nil {
		t.Fatalf("third step: %+v, want one more and no round while the socket is full", s)
	}
}

// failConn fails its first Send and takes everything after.
type failConn struct {
	fakeConn
	failed bool
}

var errUnreachable = errors.New("unreachable")

func (c *failConn) Send(b []*gso.Batch) (int, error) {
	if !c.failed {
		c.failed = true
		return 0, errUnreachable
	}
	return c.fakeConn.Send(b)
}

func TestStepAfterASendErrorWithDatagramsLeftSaysStepAgain(t *testing.T) {
	c := &failConn{fakeConn: fakeConn{room: 100}}
	p := New(newTestPump(t, &c.fakeConn, 0).Node(), c, Config{})
	enqueue(t, p, gso.Control, 1)
	other := netip.MustParseAddrPort("192.0.2.8:4000")
	if err := p.Queue().Enqueue(local, other, make([]byte, 100), gso.Control, gso.NotECT); err != nil {
		t.Fatal(err)
	}
	s := p.Step(t0, nil)
	if err := p.Sent(c.Send(s.Round)); !errors.Is(err, errUnreachable) {
		t.Fatalf("Sent returned %v", err)
	}
	s = p.Step(t0, nil)
	if !s.Flushed || !errors.Is(s.Err, errUnreachable) || !s.Again || s.Round != nil {
		t.Fatalf("step after the error: %+v, want the flush ended on it and Again", s)
	}
	s = p.Step(t0, nil)
	if s.Round == nil {
		t.Fatal("stepping again sent nothing")
	}
	p.Sent(c.Send(s.Round))
	if s = p.Step(t0, nil); !s.Flushed || s.Again || !p.Queue().Empty() || len(c.sent) != 1 {
		t.Fatalf("last step: %+v, sent %v", s, c.sent)
	}
}
