package node

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// roamNet is a lock-step world for networks that change: each node has a
// set of local addresses that the test adds and removes, node b may sit
// behind a full-cone NAT whose mappings the test flushes (a rebinding),
// and both nodes send application data every tick so that the gap a
// change leaves in delivery can be measured.
type roamNet struct {
	t       testing.TB
	now     time.Time
	nodes   [2]*Node
	addrs   [2][]netip.AddrPort // live local addresses
	latency time.Duration
	flight  []packet
	events  [2][]Event
	// nat, when set, translates node b's traffic: one external port per
	// internal address, any remote may send in (full cone).
	nat       map[netip.AddrPort]netip.AddrPort
	natPublic netip.Addr
	natPort   uint16
	// unsignalled: withdrawals are not signalled to the peer.
	unsignalled bool
	// tick is the data interval of both sides (0: no data).
	tick     time.Duration
	nextData time.Time
	// arrivals are the times application data reached each side.
	arrivals [2][]time.Time
	// stunRequests counts the requests the STUN server at roamStun
	// answered, from either side.
	stunRequests int
	// drop, when set, loses the datagrams it returns true for.
	drop func(p packet) bool
}

var (
	roamA1    = netip.MustParseAddrPort("10.0.0.1:4000")
	roamA2    = netip.MustParseAddrPort("10.0.1.1:4000")
	roamB1    = netip.MustParseAddrPort("192.168.1.2:5000")
	roamB2    = netip.MustParseAddrPort("192.168.2.2:5000")
	roamNATIP = netip.MustParseAddr("203.0.113.1")
	// roamStun answers Binding requests with the address it saw.
	roamStun = netip.MustParseAddrPort("198.51.100.1:3478")
)

func newRoamNet(t testing.TB, seed uint64, addrs [2][]netip.AddrPort, behindNAT bool) *roamNet {
	return newRoamNetConfig(t, seed, addrs, behindNAT, Config{})
}

// newRoamNetConfig is newRoamNet with a Node config (its Rand is set here).
func newRoamNetConfig(t testing.TB, seed uint64, addrs [2][]netip.AddrPort, behindNAT bool, cfg Config) *roamNet {
	h := &roamNet{t: t, now: epoch, nextData: epoch, latency: 10 * time.Millisecond, tick: 10 * time.Millisecond}
	if behindNAT {
		h.nat, h.natPublic, h.natPort = map[netip.AddrPort]netip.AddrPort{}, roamNATIP, 30000
	}
	for i := range h.nodes {
		cfg.Rand = rand.New(rand.NewPCG(seed, uint64(i)))
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		h.nodes[i] = n
	}
	for i := range h.nodes {
		for _, a := range addrs[i] {
			h.add(i, a)
		}
	}
	return h
}

func (h *roamNet) add(i int, a netip.AddrPort) {
	h.addrs[i] = append(h.addrs[i], a)
	if err := h.nodes[i].AddLocalAddress(h.now, a); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
}

func (h *roamNet) remove(i int, a netip.AddrPort) {
	h.addrs[i] = slices.DeleteFunc(h.addrs[i], func(x netip.AddrPort) bool { return x == a })
	if err := h.nodes[i].RemoveLocalAddress(h.now, a); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
}

// rebind forgets every NAT mapping: b's next packets leave from new ports.
func (h *roamNet) rebind() { clear(h.nat) }

func (h *roamNet) connect(roles [2]Role) {
	rng := rand.New(rand.NewPCG(99, 99))
	creds := [2]Credentials{ice.NewCredentials(rng), ice.NewCredentials(rng)}
	for i, n := range h.nodes {
		if _, err := n.Connect(h.now, connID, roles[i], creds[i], creds[1-i]); err != nil {
			h.t.Fatal(err)
		}
	}
	h.drain()
}

func (h *roamNet) drain() {
	for again := true; again; {
		again = false
		for i, n := range h.nodes {
			for {
				tx, ok := n.PollTransmit()
				if !ok {
					break
				}
				again = true
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
				switch g := e.(type) {
				case CandidateGathered:
					_ = h.nodes[1-i].AddRemoteCandidate(h.now, g.Conn, g.Candidate)
				case CandidateWithdrawn:
					if !h.unsignalled {
						_ = h.nodes[1-i].RemoveRemoteCandidate(h.now, g.Conn, g.Candidate.Addr)
					}
				}
			}
		}
	}
}

// deliver routes one datagram: a source the node no longer has sends
// nothing; b's traffic goes through the NAT when there is one.
func (h *roamNet) deliver(p packet) {
	if h.drop != nil && h.drop(p) {
		return
	}
	src, dst := p.src, p.dst
	if p.from != fromRelay {
		if !slices.Contains(h.addrs[p.from], p.src) {
			return
		}
		if h.nat != nil && p.from == 1 {
			src = h.natOut(src)
		}
		if dst == roamStun {
			h.answerStun(src, p.b)
			return
		}
	}
	to := -1
	for i := range h.addrs {
		if slices.Contains(h.addrs[i], dst) && (h.nat == nil || i == 0) {
			to = i
		}
	}
	if h.nat != nil && dst.Addr() == h.natPublic {
		// peerlink:order-independent: at most one mapping matches.
		for in, ext := range h.nat {
			if ext == dst {
				dst, to = in, 1
			}
		}
	}
	if to < 0 || to == p.from || !slices.Contains(h.addrs[to], dst) {
		return
	}
	if _, _, ok := h.nodes[to].HandleDatagram(h.now, dst, src, p.b); ok {
		h.arrivals[to] = append(h.arrivals[to], h.now)
	}
}

// natOut is b's NAT mapping of src, made on first use.
func (h *roamNet) natOut(src netip.AddrPort) netip.AddrPort {
	ext, ok := h.nat[src]
	if !ok {
		h.natPort++
		ext = netip.AddrPortFrom(h.natPublic, h.natPort)
		h.nat[src] = ext
	}
	return ext
}

// answerStun is the STUN server: a success naming the address it saw.
func (h *roamNet) answerStun(from netip.AddrPort, b []byte) {
	var m stun.Message
	if stunmsg.Decode(b, &m) != nil || !stunmsg.IsBindingRequest(&m) {
		return
	}
	h.stunRequests++
	h.flight = append(h.flight, packet{at: h.now.Add(h.latency), from: fromRelay, src: roamStun, dst: from,
		b: stunmsg.SuccessResponse(m.TransactionID, from, "")})
}

func (h *roamNet) next() (time.Time, bool) {
	at, ok := h.nextData, h.tick > 0
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

func (h *roamNet) step() {
	at, _ := h.next()
	h.now = at
	var due []packet
	h.flight = slices.DeleteFunc(h.flight, func(p packet) bool {
		if p.at.After(at) {
			return false
		}
		due = append(due, p)
		return true
	})
	for _, p := range due {
		h.deliver(p)
	}
	for _, n := range h.nodes {
		if d, _, found := n.PollTimeout(); found && !d.After(at) {
			n.HandleTimeout(at)
		}
	}
	if h.tick > 0 && !at.Before(h.nextData) {
		h.nextData = at.Add(h.tick)
		for _, n := range h.nodes {
			if _, ok := n.Path(connID); ok {
				_ = n.Send(at, connID, []byte("data"))
			}
		}
	}
	h.drain()
}

func (h *roamNet) runFor(d time.Duration) {
	end := h.now.Add(d)
	for {
		at, ok := h.next()
		if !ok || at.After(end) {
			break
		}
		h.step()
	}
	h.now = end
}

// gap is the longest time side i received no application data after
// since: datagrams in flight at the change still arrive after it, so the
// first arrival alone would hide the gap.
func (h *roamNet) gap(i int, since time.Time) time.Duration {
	var longest time.Duration
	last := since
	for _, at := range h.arrivals[i] {
		if at.After(since) {
			longest = max(longest, at.Sub(last))
			last = at
		}
	}
	if last == since {
		return time.Duration(1<<63 - 1)
	}
	return longest
}

// failures lists the Failed events of both sides.
func (h *roamNet) failures() []Event {
	var f []Event
	for i := range h.events {
		for _, e := range h.events[i] {
			if _, ok := e.(Failed); ok {
				f = append(f, e)
			}
		}
	}
	return f
}

// rtt is the harness's round trip.
func (h *roamNet) rtt() time.Duration { return 2 * h.latency }

// path is side i's selected path.
func (h *roamNet) path(i int) Path {
	p, ok := h.nodes[i].Path(connID)
	if !ok {
		h.t.Fatalf("%s has no path", names[i])
	}
	return p
}
