package node

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// epoch is the harness's time zero; times print as seconds since it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// packet is a datagram in flight between the two nodes.
type packet struct {
	at       time.Time
	from     int
	src, dst netip.AddrPort
	b        []byte
}

// pair is the lock-step harness: two Nodes, in-memory delivery with a fixed
// one-way latency, and a clock that jumps straight to the earliest of the
// nodes' deadlines and the next delivery.
type pairHarness struct {
	t       testing.TB
	now     time.Time
	nodes   [2]*Node
	addrs   [2]netip.AddrPort
	latency time.Duration
	flight  []packet
	cut     bool
	quiet   bool
	log     []string
	events  [2][]Event
	// received counts application payloads delivered to each side.
	received [2]int
	sent     [2][2]int // [node][class] transmits
}

const connID ConnID = 1

var names = [2]string{"a", "b"}

func newPairHarness(t testing.TB, seed uint64, cfg ice.Config) *pairHarness {
	h := &pairHarness{t: t, now: epoch, latency: 10 * time.Millisecond,
		addrs: [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:5000")}}
	for i := range h.nodes {
		n, err := New(Config{Rand: rand.New(rand.NewPCG(seed, uint64(i))), ICE: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.AddLocalAddress(h.now, h.addrs[i]); err != nil {
			t.Fatal(err)
		}
		h.nodes[i] = n
	}
	return h
}

// connect creates connection 1 on both sides with the given roles and
// signals credentials and candidates instantly.
func (h *pairHarness) connect(roles [2]Role) {
	rng := rand.New(rand.NewPCG(99, 99))
	creds := [2]Credentials{ice.NewCredentials(rng), ice.NewCredentials(rng)}
	for i, n := range h.nodes {
		if _, err := n.Connect(h.now, connID, roles[i], creds[i], creds[1-i]); err != nil {
			h.t.Fatal(err)
		}
	}
	h.drain()
}

func (h *pairHarness) ts() string { return fmt.Sprintf("%8.3f", h.now.Sub(epoch).Seconds()) }

func (h *pairHarness) logf(format string, args ...any) {
	h.log = append(h.log, h.ts()+" "+fmt.Sprintf(format, args...))
}

// drain moves every output of both nodes: transmits into flight, events
// into the log (candidates are signalled to the other side at once).
func (h *pairHarness) drain() {
	for again := true; again; {
		again = false
		for i, n := range h.nodes {
			for {
				tx, ok := n.PollTransmit()
				if !ok {
					break
				}
				again = true
				h.sent[i][tx.Class]++
				if !h.quiet {
					h.logf("%s send %s %s", names[i], tx.Class, describe(tx.Payload))
				}
				h.flight = append(h.flight, packet{at: h.now.Add(h.latency), from: i,
					src: tx.Src, dst: tx.Dst, b: append([]byte(nil), tx.Payload...)})
			}
			for {
				e, ok := n.PollEvent()
				if !ok {
					break
				}
				again = true
				h.events[i] = append(h.events[i], e)
				if _, cand := e.(CandidateGathered); !cand || !h.quiet {
					h.logf("%s event %s", names[i], e)
				}
				if g, ok := e.(CandidateGathered); ok {
					if err := h.nodes[1-i].AddRemoteCandidate(h.now, g.Conn, g.Candidate); err != nil && err != ErrUnknownConn {
						h.t.Fatal(err)
					}
				}
			}
		}
	}
}

// describe names a datagram for the trace.
func describe(b []byte) string {
	if stunmsg.Classify(b) != stunmsg.KindSTUN {
		return fmt.Sprintf("app %dB", len(b))
	}
	var m stun.Message
	if stunmsg.Decode(b, &m) != nil {
		return "malformed-stun"
	}
	switch {
	case stunmsg.IsBindingRequest(&m):
		if m.Contains(stun.AttrUseCandidate) {
			return "binding-request use-candidate"
		}
		return "binding-request"
	case stunmsg.IsBindingSuccess(&m):
		return "binding-success"
	case stunmsg.IsBindingError(&m):
		r, _ := stunmsg.ParseResponse(&m)
		return fmt.Sprintf("binding-error %d", r.Code)
	}
	return "stun"
}

// next is the earliest instant anything happens, if anything will.
func (h *pairHarness) next() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, n := range h.nodes {
		if d, _, found := n.PollTimeout(); found && (!ok || d.Before(at)) {
			at, ok = d, true
		}
	}
	for _, p := range h.flight {
		if !ok || p.at.Before(at) {
			at, ok = p.at, true
		}
	}
	return at, ok
}

// step advances to the next instant and processes it.
func (h *pairHarness) step() bool {
	at, ok := h.next()
	if !ok {
		return false
	}
	h.now = at
	var due, later []packet
	for _, p := range h.flight {
		if p.at.After(at) {
			later = append(later, p)
		} else {
			due = append(due, p)
		}
	}
	h.flight = later
	for _, p := range due {
		to := 1 - p.from
		if h.cut || p.dst != h.addrs[to] {
			if !h.quiet {
				h.logf("%s lost %s", names[to], describe(p.b))
			}
			continue
		}
		if _, _, ok := h.nodes[to].HandleDatagram(at, p.dst, p.src, p.b); ok {
			h.received[to]++
		}
	}
	for _, n := range h.nodes {
		if d, _, found := n.PollTimeout(); found && !d.After(at) {
			n.HandleTimeout(at)
		}
	}
	h.drain()
	return true
}

// runUntil steps until the clock would pass end, then sets it to end.
func (h *pairHarness) runUntil(end time.Time) {
	for {
		at, ok := h.next()
		if !ok || at.After(end) {
			break
		}
		h.step()
	}
	h.now = end
}

func (h *pairHarness) runFor(d time.Duration) { h.runUntil(h.now.Add(d)) }

// send has node i send count datagrams of size bytes to the other.
func (h *pairHarness) send(i, count, size int) {
	for range count {
		if err := h.nodes[i].Send(h.now, connID, make([]byte, size)); err != nil {
			h.t.Fatal(err)
		}
	}
	h.drain()
}

// eventAt returns when node i logged an event whose text contains s.
func (h *pairHarness) find(s string) (string, bool) {
	for _, l := range h.log {
		if strings.Contains(l, s) {
			return l, true
		}
	}
	return "", false
}

func (h *pairHarness) connected(i int) bool {
	_, ok := h.nodes[i].Path(connID)
	return ok
}

var _ = gso.Control
