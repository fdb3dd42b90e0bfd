package node

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// epoch is the harness's time zero; times print as seconds since it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// packet is a datagram in flight between the two nodes (or a node and the
// relay).
type packet struct {
	at time.Time
	// from is the sending node, fromRelay for the relay server.
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
	// received counts application payloads delivered to each side; with
	// keep set, payloads keeps a copy of each.
	received [2]int
	keep     bool
	payloads [2][][]byte
	sent     [2][2]int // [node][class] transmits

	// relay, when set, is a TURN server at relayIP that both nodes may use.
	relay *turnserver.Server
	// relayTweak, when set, adjusts the server's configuration (lifetimes
	// an operator shortened) before withRelay starts it.
	relayTweak func(*turnserver.Config)
	// relayedIP, when set, is the server's relayed IP other than relayIP.
	relayedIP netip.Addr
	// restartTweak, when set, adjusts the configuration of the server
	// restartRelay starts.
	restartTweak func(*turnserver.Config)
	// serverOnly drops what a node sends to a relayed address from its
	// own: each side reaches the relay server and nothing else, so a
	// relayed path runs between the two relayed addresses.
	serverOnly bool
	// blockDirect drops every datagram between the nodes' own addresses,
	// as a firewall between them would; the relay is still reachable.
	blockDirect bool
	// relayDown drops everything to and from the relay: the server died.
	relayDown bool
	// unsignalledWithdrawals: the application does not signal
	// CandidateWithdrawn to the peer (or it is lost on the way).
	unsignalledWithdrawals bool
	// wrapped counts transmits to the relay by what they carry inside:
	// [node][class][inner kind] (see checkWrapped).
	wrapped [2][2][3]int
	// onTransmit, when set, sees every transmit of both nodes.
	onTransmit func(i int, tx Transmit)
}

const fromRelay = -1

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
				h.checkWrapped(i, tx)
				if h.onTransmit != nil {
					h.onTransmit(i, tx)
				}
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
				switch g := e.(type) {
				case CandidateGathered:
					if err := h.nodes[1-i].AddRemoteCandidate(h.now, g.Conn, g.Candidate); err != nil &&
						err != ErrUnknownConn && err != ErrConnFailed {
						h.t.Fatal(err)
					}
				case CandidateWithdrawn:
					if h.unsignalledWithdrawals {
						break
					}
					_ = h.nodes[1-i].RemoveRemoteCandidate(h.now, g.Conn, g.Candidate.Addr)
				}
			}
		}
	}
}

// describe names a datagram for the trace. It reads first byte 64-79 as
// ChannelData wherever it travels: only a label (an application payload
// that starts so is traced as malformed or foreign ChannelData).
func describe(b []byte) string {
	switch stunmsg.ClassifyFromServer(b) {
	case stunmsg.ServerChannelData:
		_, inner, err := stunmsg.DecodeChannelData(b)
		if err != nil {
			return "malformed-channeldata"
		}
		return "channeldata(" + describe(inner) + ")"
	case stunmsg.ServerOther:
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
	case m.Type == stun.NewType(stun.MethodSend, stun.ClassIndication),
		m.Type == stun.NewType(stun.MethodData, stun.ClassIndication):
		data, _ := m.Get(stun.AttrData)
		return strings.ToLower(m.Type.Method.String()) + "(" + describe(data) + ")"
	}
	return strings.ToLower(strings.ReplaceAll(m.Type.String(), " ", "-"))
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
	if h.relay != nil {
		if d, found := h.relay.PollTimeout(); found && (!ok || d.Before(at)) {
			at, ok = d, true
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
		h.deliver(at, p)
	}
	if h.relay != nil {
		if d, found := h.relay.PollTimeout(); found && !d.After(at) {
			h.relay.HandleTimeout(at)
		}
		h.drainRelay()
	}
	for _, n := range h.nodes {
		if d, _, found := n.PollTimeout(); found && !d.After(at) {
			n.HandleTimeout(at)
		}
	}
	h.drain()
	return true
}

// deliver hands a datagram to the node or relay it is addressed to, unless
// the network drops it.
func (h *pairHarness) deliver(at time.Time, p packet) {
	if h.relay != nil && (p.dst.Addr() == relayIP || p.dst.Addr() == h.relayedIP) {
		if h.serverOnly && p.from != fromRelay && p.dst != relayAddr {
			if !h.quiet {
				h.logf("relayed address lost %s", describe(p.b))
			}
			return
		}
		if !h.cut && !h.relayDown {
			h.relay.HandleDatagram(at, p.src, p.dst, p.b)
			h.drainRelay()
		} else if !h.quiet {
			h.logf("relay lost %s", describe(p.b))
		}
		return
	}
	to := 1 - p.from
	if p.from == fromRelay {
		to = slices.Index(h.addrs[:], p.dst)
	}
	direct := p.from != fromRelay && p.src.Addr() == h.addrs[p.from].Addr()
	if to < 0 || h.cut || p.dst != h.addrs[to] || (h.blockDirect && direct) || (p.from == fromRelay && h.relayDown) {
		if !h.quiet && to >= 0 {
			h.logf("%s lost %s", names[to], describe(p.b))
		}
		return
	}
	if _, payload, ok := h.nodes[to].HandleDatagram(at, p.dst, p.src, p.b); ok {
		h.received[to]++
		if h.keep {
			h.payloads[to] = append(h.payloads[to], append([]byte(nil), payload...))
		}
	}
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
