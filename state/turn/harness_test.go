package turn

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// harness steps one client against a fakeServer on a hand-driven clock.
// Delivery is instant, so every schedule the tests assert is the client's
// own.
type harness struct {
	t      *testing.T
	start  time.Time
	now    time.Time
	c      *Client
	s      *fakeServer
	sends  []send
	events []Event
	// deliver can be turned off to lose every datagram the client sends.
	deliver bool
}

// send is one datagram the client sent: when (offset from start) and what.
type send struct {
	at   time.Duration
	what string // "Allocate", "Allocate+auth", "ChannelData", ...
	tx   stunmsg.TxID
}

var (
	local = netip.MustParseAddrPort("10.0.0.1:5000")
	peerA = netip.MustParseAddrPort("192.0.2.10:7000")
	peerB = netip.MustParseAddrPort("192.0.2.20:7000")
)

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, tweak)
}

// newHarnessWith sets the server up with server before the client starts.
func newHarnessWith(t *testing.T, server func(*fakeServer), tweak func(*Config)) *harness {
	t.Helper()
	return newHarnessFull(t, server, nil, tweak)
}

// newHarnessFamily is newHarnessWith for a client asking for family f.
func newHarnessFamily(t *testing.T, server func(*fakeServer), f Family) *harness {
	t.Helper()
	return newHarnessFull(t, server, func(id *Identity) { id.Family = f }, nil)
}

func newHarnessFull(t *testing.T, server func(*fakeServer), idTweak func(*Identity), tweak func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, start: time.Unix(1_700_000_000, 0), s: newFakeServer(), deliver: true}
	if server != nil {
		server(h.s)
	}
	h.now = h.start
	h.s.clock = &h.now
	var cfg Config
	if tweak != nil {
		tweak(&cfg)
	}
	id := h.identity()
	if idTweak != nil {
		idTweak(&id)
	}
	c, err := New(h.now, id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.pump()
	return h
}

// identity is the client's identity toward the fake server.
func (h *harness) identity() Identity {
	return Identity{Server: h.s.addr, Local: local, Username: "u", Password: "p", Rand: rand.New(rand.NewPCG(1, 2))}
}

// pump delivers everything the client queued and every answer, until quiet.
func (h *harness) pump() {
	for {
		t, ok := h.c.PollTransmit()
		if !ok {
			break
		}
		h.record(t)
		if reply := h.s.answer(t.Payload); reply != nil && h.deliver {
			h.c.HandleDatagram(h.now, h.s.addr, reply)
		}
	}
	for e, ok := h.c.PollEvent(); ok; e, ok = h.c.PollEvent() {
		h.events = append(h.events, e)
	}
}

func (h *harness) record(t Transmit) {
	if t.Src != local || t.Dst != h.s.addr {
		h.t.Fatalf("transmit %v -> %v, want %v -> %v", t.Src, t.Dst, local, h.s.addr)
	}
	s := send{at: h.now.Sub(h.start), what: "ChannelData"}
	var m stun.Message
	if stunmsg.Decode(t.Payload, &m) == nil {
		s.what, s.tx = m.Type.Method.String(), m.TransactionID
		if m.Type.Class == stun.ClassIndication {
			s.what += "-indication"
		}
		if m.Contains(stun.AttrMessageIntegrity) {
			s.what += "+auth"
		}
	}
	h.sends = append(h.sends, s)
}

// runUntil jumps the clock from deadline to deadline up to offset `to`.
func (h *harness) runUntil(to time.Duration) {
	end := h.start.Add(to)
	for {
		d, _, ok := h.c.PollTimeout()
		if !ok || d.After(end) {
			break
		}
		if d.Before(h.now) {
			h.t.Fatalf("PollTimeout %v is before now %v", d.Sub(h.start), h.now.Sub(h.start))
		}
		h.now = d
		h.c.HandleTimeout(h.now)
		h.pump()
	}
	h.now = end
}

// at returns the offsets at which datagrams of kind `what` were sent.
func (h *harness) at(what string) []time.Duration {
	var out []time.Duration
	for _, s := range h.sends {
		if s.what == what {
			out = append(out, s.at)
		}
	}
	return out
}

func (h *harness) whats() []string {
	var out []string
	for _, s := range h.sends {
		out = append(out, s.what)
	}
	return out
}

func (h *harness) kinds() []EventKind {
	var out []EventKind
	for _, e := range h.events {
		out = append(out, e.Kind)
	}
	return out
}

func (h *harness) lastEvent() Event {
	if len(h.events) == 0 {
		h.t.Fatal("no events")
	}
	return h.events[len(h.events)-1]
}

// inbound hands the client a datagram from the server and returns what it
// yields.
func (h *harness) inbound(b []byte) (netip.AddrPort, string) {
	handled, peer, payload := h.c.HandleDatagram(h.now, h.s.addr, b)
	if !handled {
		h.t.Fatal("datagram from the server not handled")
	}
	h.pump()
	return peer, string(payload)
}

func secs(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func wantDurations(t *testing.T, what string, got, want []time.Duration) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s sent at %v, want %v", what, got, want)
	}
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func withPort(a netip.AddrPort, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr(), port)
}
