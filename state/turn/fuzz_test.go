package turn

import (
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

// fuzzClient is an allocated client with a permission and a channel, a
// keepalive and a Refresh in flight, so that fuzzed input can reach every
// handler. Its random source is fixed, so seeds built from its requests
// carry transaction IDs it knows.
func fuzzClient(t *testing.T) *harness {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	h.runUntil(299 * time.Second)
	h.s.silent = true
	h.runUntil(300 * time.Second)
	h.s.silent = false
	return h
}

// FuzzHandleDatagram feeds arbitrary datagrams from the server to a busy
// client: none may panic, and the client's outputs must stay sane.
func FuzzHandleDatagram(f *testing.F) {
	h := fuzzClient(&testing.T{})
	refresh := h.sends[len(h.sends)-1]
	r := newMessage(stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse), refresh.tx)
	addLifetime(r, time.Minute)
	f.Add(sign(r, h.s.key()))
	e := newMessage(stun.NewType(stun.MethodRefresh, stun.ClassErrorResponse), refresh.tx)
	addErrorCode(e, CodeStaleNonce)
	e.Add(stun.AttrNonce, []byte("n2"))
	f.Add(finish(e))
	f.Add(h.s.channelData(minChannel, "hello", true))
	f.Add(h.s.dataIndication(peerA, "hi"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := fuzzClient(t)
		handled, peer, payload := h.c.HandleDatagram(h.now, h.s.addr, b)
		if !handled {
			t.Fatal("a datagram from the server was not handled")
		}
		if payload != nil && !peer.IsValid() {
			t.Fatalf("payload %q without a peer", payload)
		}
		h.pump()
		if d, _, ok := h.c.PollTimeout(); ok && d.Before(h.now) {
			t.Fatalf("deadline %v before now", d.Sub(h.now))
		}
		h.runUntil(time.Hour)
	})
}
