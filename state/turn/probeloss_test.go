package turn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// pumpLosingAllocateAnswers is pump, but every answer to an Allocate is
// lost on its way back.
func (h *harness) pumpLosingAllocateAnswers() {
	for {
		t, ok := h.c.PollTransmit()
		if !ok {
			break
		}
		h.record(t)
		reply := h.s.answer(t.Payload)
		if reply == nil {
			continue
		}
		var m stun.Message
		if stunmsg.Decode(reply, &m) == nil && m.Type.Method == stun.MethodAllocate {
			continue
		}
		h.c.HandleDatagram(h.now, h.s.addr, reply)
	}
	for e, ok := h.c.PollEvent(); ok; e, ok = h.c.PollEvent() {
		h.events = append(h.events, e)
	}
}

// lostProbeGrant plays a verification whose probe reached a server that had
// lost the allocation: the server granted the probe a new allocation (a new
// relayed port) on the same 5-tuple, and every answer to the probe was
// lost, while the Bindings beside it were answered. pion/turn answers no
// Refresh for the lost allocation, so the verification's Refresh says
// nothing either. It returns the client's relayed address before.
func lostProbeGrant(t *testing.T, h *harness) netip.AddrPort {
	t.Helper()
	h.runUntil(10 * time.Second)
	old, _ := h.c.Relayed()
	h.s.allocated = false
	h.s.perms, h.s.channels = map[netip.Addr]bool{}, map[uint16]netip.AddrPort{}
	h.s.silentRefresh = true
	h.s.relayed = netip.MustParseAddrPort("198.51.100.1:50001")
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pumpLosingAllocateAnswers()
	end := h.now.Add(20 * time.Second)
	for {
		d, _, ok := h.c.PollTimeout()
		if !ok || d.After(end) {
			break
		}
		h.now = d
		h.c.HandleTimeout(h.now)
		h.pumpLosingAllocateAnswers()
	}
	h.now = end
	if !h.s.allocated {
		t.Fatal("the probe never reached the server: the test tests nothing")
	}
	if got, ok := h.c.Relayed(); !ok || got != old {
		t.Fatalf("relayed %v %v right after the lost answers, want still %v", got, ok, old)
	}
	// The loss ends; the server now answers Refresh for the probe's
	// allocation, the only one on the 5-tuple.
	h.s.silentRefresh = false
	return old
}

// wantServersAllocation fails unless the client advertises the relayed
// address of the allocation the server holds on its 5-tuple.
func wantServersAllocation(t *testing.T, h *harness, old netip.AddrPort) {
	t.Helper()
	got, ok := h.c.Relayed()
	if !ok || got != h.s.relayed {
		t.Fatalf("client advertises %v (allocated %v, was %v), the server's allocation is %v; stats %+v",
			got, ok, old, h.s.relayed, h.c.Stats())
	}
}

// The next verification's probe is the lost one again, with its
// transaction ID: pion/turn and coturn answer it with the grant, not with
// 437, and the client moves to the new relayed address.
func TestALostProbeGrantIsLearnedAtTheNextVerification(t *testing.T) {
	h := newHarness(t, nil)
	old := lostProbeGrant(t, h)
	h.runUntil(200 * time.Second)
	h.c.Verify(h.now)
	h.pump()
	h.runUntil(300 * time.Second)
	wantServersAllocation(t, h, old)
}

// Nobody verifies again (the owner's connection may sit idle): the next
// scheduled Refresh succeeds on the probe's allocation, and the lost probe
// goes again beside it.
func TestALostProbeGrantIsLearnedAtTheNextScheduledRefresh(t *testing.T) {
	h := newHarness(t, nil)
	old := lostProbeGrant(t, h)
	h.runUntil(10*time.Second + 5*time.Minute + time.Second)
	wantServersAllocation(t, h, old)
	if s := h.c.Stats(); s.Reallocations != 1 {
		t.Fatalf("stats %+v, want one re-allocation", s)
	}
}

// A probe whose 437 answers were all lost goes again with its ID; the
// allocation was held all along, and the retransmission's 437 says so: no
// re-allocation.
func TestALostProbe437IsSettledByItsRetransmission(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	old, _ := h.c.Relayed()
	h.s.lostRefreshAnswers = true
	if !h.c.Verify(h.now) {
		t.Fatal("Verify sent nothing")
	}
	h.pumpLosingAllocateAnswers()
	for end := h.now.Add(20 * time.Second); ; {
		d, _, ok := h.c.PollTimeout()
		if !ok || d.After(end) {
			break
		}
		h.now = d
		h.c.HandleTimeout(h.now)
		h.pumpLosingAllocateAnswers()
	}
	h.s.lostRefreshAnswers = false
	h.runUntil(10*time.Second + 5*time.Minute + time.Second)
	got, ok := h.c.Relayed()
	if s := h.c.Stats(); !ok || got != old || s.Reallocations != 0 || s.ProbesHeld != 1 {
		t.Fatalf("relayed %v %v (was %v), stats %+v: want the allocation kept and one probe held", got, ok, old, s)
	}
}

// The nonce went stale before the lost probe went again: the 438 says the
// server did not look at it, and the retry keeps the lost probe's ID.
func TestALostProbeGrantIsLearnedThroughAStaleNonce(t *testing.T) {
	h := newHarness(t, nil)
	old := lostProbeGrant(t, h)
	h.s.staleNonce()
	h.runUntil(10*time.Second + 5*time.Minute + time.Second)
	wantServersAllocation(t, h, old)
	if s := h.c.Stats(); s.StaleNonces == 0 {
		t.Fatalf("stats %+v: no 438 met, the test tests nothing", s)
	}
}
