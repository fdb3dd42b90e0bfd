package turn

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var (
	server6 = netip.MustParseAddrPort("[2001:db8::1]:3478")
	local6  = netip.MustParseAddrPort("[2001:db8::2]:5000")
)

// racer is a client with an alternate address, stepped by hand: the fake
// server answers whatever reaches it, and the test says from which
// address the answer comes back.
type racer struct {
	t   *testing.T
	now time.Time
	c   *Client
	s   *fakeServer
}

func newRacer(t *testing.T) *racer {
	r := &racer{t: t, now: time.Unix(1_700_000_000, 0), s: newFakeServer()}
	r.s.clock = &r.now
	c, err := New(r.now, Identity{Server: r.s.addr, Local: local, Alternate: server6, AlternateLocal: local6,
		Username: "u", Password: "p", Rand: rand.New(rand.NewPCG(1, 2))}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

func (r *racer) transmits() []Transmit {
	var out []Transmit
	for t, ok := r.c.PollTransmit(); ok; t, ok = r.c.PollTransmit() {
		out = append(out, t)
	}
	return out
}

// converse answers every transmit to want, from want, until quiet, and
// fails on a transmit to anywhere else.
func (r *racer) converse(want netip.AddrPort, wantSrc netip.AddrPort) {
	for ts := r.transmits(); len(ts) > 0; ts = r.transmits() {
		for _, tr := range ts {
			if tr.Dst != want || tr.Src != wantSrc {
				r.t.Fatalf("transmit %v -> %v, want %v -> %v", tr.Src, tr.Dst, wantSrc, want)
			}
			if reply := r.s.answer(tr.Payload); reply != nil {
				r.c.HandleDatagram(r.now, want, reply)
			}
		}
	}
}

func TestTheFirstBindingGoesToBothAddressesAndTheFirstToAnswerIsKept(t *testing.T) {
	r := newRacer(t)
	first := r.transmits()
	if len(first) != 2 || first[0].Dst != r.s.addr || first[0].Src != local || first[1].Dst != server6 ||
		first[1].Src != local6 || string(first[0].Payload) != string(first[1].Payload) {
		t.Fatalf("first transmits %+v, want one Binding to each address", first)
	}
	// The IPv6 address answers first.
	if handled, _, _ := r.c.HandleDatagram(r.now, server6, r.s.answer(first[1].Payload)); !handled {
		t.Fatal("the alternate's answer was not taken")
	}
	if r.c.Server() != server6 || r.c.Local() != local6 || r.c.Stats().AlternateChosen != 1 {
		t.Fatalf("kept %v from %v (chosen %d), want %v from %v", r.c.Server(), r.c.Local(), r.c.Stats().AlternateChosen, server6, local6)
	}
	r.converse(server6, local6)
	if _, ok := r.c.Relayed(); !ok {
		t.Fatalf("not allocated through the alternate: %v", r.c.State())
	}
	// The answer to the same Binding from the address that lost is
	// someone else's datagram now.
	if handled, _, _ := r.c.HandleDatagram(r.now, r.s.addr, r.s.answer(first[0].Payload)); handled {
		t.Fatal("the losing address is still heard")
	}
}

func TestWhenTheConfiguredAddressAnswersFirstTheAlternateIsDropped(t *testing.T) {
	r := newRacer(t)
	first := r.transmits()
	r.c.HandleDatagram(r.now, r.s.addr, r.s.answer(first[0].Payload))
	r.converse(r.s.addr, local)
	if r.c.Server() != r.s.addr || r.c.Stats().AlternateChosen != 0 || r.c.State() != StateAllocated {
		t.Fatalf("server %v, chosen %d, state %v", r.c.Server(), r.c.Stats().AlternateChosen, r.c.State())
	}
	if handled, _, _ := r.c.HandleDatagram(r.now, server6, r.s.answer(first[1].Payload)); handled {
		t.Fatal("the alternate is still heard after losing")
	}
}

func TestWhileNeitherAnswersEveryRetransmissionGoesToBoth(t *testing.T) {
	r := newRacer(t)
	r.transmits()
	for range 3 {
		d, _, _ := r.c.PollTimeout()
		r.now = d
		r.c.HandleTimeout(r.now)
		if ts := r.transmits(); len(ts) != 2 || ts[0].Dst != r.s.addr || ts[1].Dst != server6 {
			t.Fatalf("retransmission %+v, want one to each address", ts)
		}
	}
}
