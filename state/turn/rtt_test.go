package turn

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The round trip comes from answers to requests sent once, smoothed with
// RFC 6298's gain of 1/8; an answer to a retransmitted request is no
// sample (it cannot tell which send it answers).
func TestRTTIsMeasuredFromAnswersToRequestsSentOnce(t *testing.T) {
	s := newFakeServer()
	start := time.Unix(1_700_000_000, 0)
	c, err := New(start, Identity{Server: s.addr, Local: local, Username: "u", Password: "p", Rand: rand.New(rand.NewPCG(1, 2))}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.RTT(); ok {
		t.Fatal("an RTT before any answer")
	}
	answer := func(after time.Duration) {
		t.Helper()
		tr, ok := c.PollTransmit()
		if !ok {
			t.Fatal("nothing sent")
		}
		c.HandleDatagram(start.Add(after), s.addr, s.answer(tr.Payload))
	}
	answer(40 * time.Millisecond) // Binding, sent at 0
	answer(60 * time.Millisecond) // Allocate's 401, sent at 40 ms
	want := 40*time.Millisecond + (20*time.Millisecond-40*time.Millisecond)/8
	if got, ok := c.RTT(); !ok || got != want {
		t.Fatalf("RTT %v %v, want %v", got, ok, want)
	}
	// The signed Allocate, sent at 60 ms, is lost once and answered after
	// its retransmission at 560 ms.
	if _, ok := c.PollTransmit(); !ok {
		t.Fatal("no signed Allocate")
	}
	c.HandleTimeout(start.Add(560 * time.Millisecond))
	answer(600 * time.Millisecond)
	if c.State() != StateAllocated {
		t.Fatalf("state %v", c.State())
	}
	if got, _ := c.RTT(); got != want {
		t.Fatalf("RTT %v after an answer to a retransmission, want %v unchanged", got, want)
	}
}
