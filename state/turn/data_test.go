package turn

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
)

func TestSendUsesIndicationsUntilTheChannelIsBoundThenUnpaddedChannelData(t *testing.T) {
	h := newHarness(t, nil)
	h.s.silent = true // the ChannelBind stays unanswered for now
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	tr, err := h.c.Send(h.now, peerA, []byte("early"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Class != gso.Data || tr.Dst != h.s.addr || !stunmsg.IsSTUN(tr.Payload) {
		t.Fatalf("before the bind: %+v", tr)
	}
	h.s.silent = false
	h.s.answer(tr.Payload)
	if len(h.s.indications) != 1 || h.s.indications[0] != (relayed{peerA, "early"}) {
		t.Fatalf("server saw %+v", h.s.indications)
	}
	h.runUntil(time.Second) // the retransmitted requests are answered
	if !h.c.HasChannel(peerA) {
		t.Fatal("channel not bound")
	}
	tr, err = h.c.Send(h.now, peerA, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'}; !bytes.Equal(tr.Payload, want) {
		t.Fatalf("ChannelData % x, want % x (unpadded)", tr.Payload, want)
	}
	if s := h.c.Stats(); s.ChannelDataSent != 1 || s.IndicationsSent != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAppendSendAllocatesNothingOnABoundChannel(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	buf := make([]byte, 0, 2048)
	payload := make([]byte, 1200)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.c.AppendSend(buf[:0], h.now, peerA, payload, gso.Control); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per send", allocs)
	}
}

func TestSendIsRefusedWithoutAnAllocationOrAPermission(t *testing.T) {
	h := newHarnessWith(t, func(s *fakeServer) { s.silent = true }, nil)
	if _, err := h.c.Send(h.now, peerA, []byte("x")); !errors.Is(err, ErrNotAllocated) {
		t.Fatalf("before allocation: %v", err)
	}
	h = newHarness(t, nil)
	if _, err := h.c.Send(h.now, peerA, []byte("x")); !errors.Is(err, ErrNoPermission) {
		t.Fatalf("without permission: %v", err)
	}
	if err := h.c.CreatePermission(h.now, netip.MustParseAddrPort("[2001:db8::1]:1")); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("IPv6 peer on an IPv4 relay: %v", err)
	}
	if err := h.c.CreatePermission(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Send(h.now, peerA, make([]byte, 70000)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized payload: %v", err)
	}
	// The relay's own limit, not only the framing's: what the server
	// would drop silently is refused here.
	if _, err := h.c.Send(h.now, peerA, make([]byte, DefaultMaxPayload+1)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("payload over MaxPayload: %v", err)
	}
	if _, err := h.c.Send(h.now, peerA, make([]byte, DefaultMaxPayload)); err != nil {
		t.Fatalf("payload of MaxPayload: %v", err)
	}
}

func TestReceivesPaddedAndUnpaddedChannelDataAndDataIndications(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.c.BindChannel(h.now, peerA); err != nil {
		t.Fatal(err)
	}
	h.pump()
	for _, padded := range []bool{false, true} {
		if peer, got := h.inbound(h.s.channelData(minChannel, "hello", padded)); peer != peerA || got != "hello" {
			t.Fatalf("padded=%v: %v %q", padded, peer, got)
		}
	}
	if peer, got := h.inbound(h.s.dataIndication(peerA, "via indication")); peer != peerA || got != "via indication" {
		t.Fatalf("indication: %v %q", peer, got)
	}
	if _, got := h.inbound(h.s.channelData(minChannel+7, "stray", false)); got != "" {
		t.Fatalf("unbound channel delivered %q", got)
	}
	if _, got := h.inbound(h.s.dataIndication(peerB, "stranger")); got != "" {
		t.Fatalf("peer without permission delivered %q", got)
	}
	s := h.c.Stats()
	if s.ChannelDataReceived != 2 || s.IndicationsReceived != 1 ||
		s.Drops[DropUnknownChannel] != 1 || s.Drops[DropNoPermission] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDatagramsFromOtherAddressesAreNotTheClients(t *testing.T) {
	h := newHarness(t, nil)
	handled, _, _ := h.c.HandleDatagram(h.now, peerA, h.s.channelData(minChannel, "x", false))
	if handled {
		t.Fatal("a datagram from a peer address was claimed")
	}
	mapped := netip.AddrPortFrom(netip.AddrFrom16(h.s.addr.Addr().As16()), h.s.addr.Port())
	if handled, _, _ := h.c.HandleDatagram(h.now, mapped, []byte{0x80}); !handled {
		t.Fatal("the server's address in IPv4-mapped form was not recognised")
	}
	if h.c.Stats().Drops[DropNotTURN] != 1 {
		t.Fatalf("stats %+v", h.c.Stats())
	}
}

func TestResponsesToNoRequestAreDroppedBeforeAnyIntegrityWork(t *testing.T) {
	h := newHarness(t, nil)
	h.s.silent = true
	h.runUntil(25 * time.Second) // a keepalive Binding is in flight
	inFlight := h.sends[len(h.sends)-1].tx
	// A success response with a garbage body and a stranger's ID: only the
	// header may be looked at.
	junk := newMessage(stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse), stunmsg.TxID{7})
	junk.Add(stun.AttrMessageIntegrity, make([]byte, 20))
	h.inbound(finish(junk))
	// A right ID with the wrong method is no answer either.
	wrong := newMessage(stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse), inFlight)
	h.inbound(finish(wrong))
	if h.c.Stats().Drops[DropUnknownTransaction] != 2 {
		t.Fatalf("stats %+v", h.c.Stats())
	}
}

func TestAForgedSuccessToASignedRequestIsDroppedAndTheRequestGoesOn(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(299 * time.Second)
	h.s.silent = true
	h.runUntil(300 * time.Second) // the Refresh is in flight
	refresh := h.sends[len(h.sends)-1]
	if refresh.what != "Refresh+auth" {
		t.Fatalf("last send %q", refresh.what)
	}
	forged := newMessage(stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse), refresh.tx)
	addLifetime(forged, time.Hour)
	h.inbound(sign(forged, stun.NewLongTermIntegrity("u", "test", "guess")))
	unsigned := newMessage(stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse), refresh.tx)
	h.inbound(finish(unsigned))
	if h.c.Stats().Drops[DropIntegrity] != 2 || h.c.Lifetime() != 600*time.Second {
		t.Fatalf("stats %+v, lifetime %v", h.c.Stats(), h.c.Lifetime())
	}
	h.s.silent = false
	h.runUntil(301 * time.Second)
	// The forgeries changed nothing: the retransmission is answered.
	wantDurations(t, "Refresh", h.at("Refresh+auth"), secs(300, 300.5))
	if d, why, _ := h.c.PollTimeout(); why != "turn: keepalive" || d.Sub(h.start) != 325*time.Second {
		t.Fatalf("next %q at %v", why, d.Sub(h.start))
	}
}

func TestTheClockNeverRunsBackwards(t *testing.T) {
	h := newHarness(t, nil)
	h.runUntil(10 * time.Second)
	h.c.HandleTimeout(h.now) // at 10 s
	h.c.HandleTimeout(h.start)
	d, _, ok := h.c.PollTimeout()
	if !ok || d.Before(h.now) || h.c.Stats().ClockBackwards != 1 {
		t.Fatalf("deadline %v, stats %+v", d.Sub(h.start), h.c.Stats())
	}
}
