package node

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/ice"
)

// choiceWorld is one Node and TURN servers at given one-way delays: enough
// to measure each relay's round trip and watch connections choose.
type choiceWorld struct {
	t       *testing.T
	now     time.Time
	n       *Node
	local   netip.AddrPort
	servers []*turnserver.Server
	addrs   []netip.AddrPort
	delays  []time.Duration
	dead    []bool   // a dead server's traffic is dropped both ways
	flight  []packet // from: -1 toward the node, else the server's index
}

func newChoiceWorld(t *testing.T, delays ...time.Duration) *choiceWorld {
	w := &choiceWorld{t: t, now: epoch, local: netip.MustParseAddrPort("10.0.0.1:4000"), delays: delays}
	n, err := New(Config{Rand: rand.New(rand.NewPCG(50, 50)), Relay: fastRelay})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.AddLocalAddress(w.now, w.local); err != nil {
		t.Fatal(err)
	}
	w.n = n
	for i := range delays {
		ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)})
		srv, err := turnserver.New(turnserver.Config{Realm: "test",
			Users: []turnserver.Credential{{Username: relayUser, Password: relayPassword}}, RelayAddr: ip,
			Rand: rand.New(rand.NewPCG(uint64(i), 9))})
		if err != nil {
			t.Fatal(err)
		}
		w.servers, w.addrs = append(w.servers, srv), append(w.addrs, netip.AddrPortFrom(ip, 3478))
		w.dead = append(w.dead, false)
		if err := n.AddRelay(w.now, w.addrs[i], w.local, relayUser, relayPassword); err != nil {
			t.Fatal(err)
		}
	}
	w.flush()
	return w
}

// flush puts what the node and the servers sent in flight.
func (w *choiceWorld) flush() {
	for tx, ok := w.n.PollTransmit(); ok; tx, ok = w.n.PollTransmit() {
		for i, a := range w.addrs {
			if tx.Dst == a && !w.dead[i] {
				w.flight = append(w.flight, packet{at: w.now.Add(w.delays[i]), from: i, src: tx.Src, dst: tx.Dst,
					b: append([]byte(nil), tx.Payload...)})
			}
		}
	}
	for i, s := range w.servers {
		for tr, ok := s.PollTransmit(); ok; tr, ok = s.PollTransmit() {
			if tr.To == w.local && !w.dead[i] {
				w.flight = append(w.flight, packet{at: w.now.Add(w.delays[i]), from: -1, src: tr.From, dst: tr.To,
					b: append([]byte(nil), tr.Payload...)})
			}
		}
	}
}

// run steps deliveries and the node's timers for d.
func (w *choiceWorld) run(d time.Duration) {
	end := w.now.Add(d)
	for {
		at, _, ok := w.n.PollTimeout()
		next := -1
		for i, p := range w.flight {
			if !ok || p.at.Before(at) {
				at, ok, next = p.at, true, i
			}
		}
		if !ok || at.After(end) {
			break
		}
		w.now = at
		if next < 0 {
			w.n.HandleTimeout(w.now)
		} else {
			p := w.flight[next]
			w.flight = append(w.flight[:next], w.flight[next+1:]...)
			if p.from < 0 {
				w.n.HandleDatagram(w.now, p.dst, p.src, p.b)
			} else {
				w.servers[p.from].HandleDatagram(w.now, p.src, p.dst, p.b)
			}
		}
		w.flush()
	}
	w.now = end
}

// connsPerRelay connects count connections and counts them per relay.
func (w *choiceWorld) connsPerRelay(count int) []int {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range count {
		if _, err := w.n.Connect(w.now, ConnID(100+i), Controlling, ice.NewCredentials(rng), ice.NewCredentials(rng)); err != nil {
			w.t.Fatal(err)
		}
	}
	out := make([]int, len(w.addrs))
	for i, a := range w.addrs {
		st, _ := w.n.RelayStats(a)
		out[i] = st.Conns
		w.t.Logf("relay %v: rtt %v, %d connections", a, st.RTT, st.Conns)
	}
	return out
}

// With both relays granted and measured, a connection takes only relays
// within 1.5 times the best round trip: none of twenty takes a relay at
// 100 ms when another answers in 20 ms.
func TestConnectionsTakeOnlyRelaysWithin1point5TimesTheBestRoundTrip(t *testing.T) {
	w := newChoiceWorld(t, 50*time.Millisecond, 10*time.Millisecond)
	w.run(3 * time.Second)
	if got := w.connsPerRelay(20); got[0] != 0 || got[1] != 20 {
		t.Fatalf("connections per relay %v, want all 20 on the near one", got)
	}
}

// Relays of like round trip (20 ms and 26 ms) share the connections at
// random.
func TestConnectionsSpreadOverRelaysOfLikeRoundTrip(t *testing.T) {
	w := newChoiceWorld(t, 13*time.Millisecond, 10*time.Millisecond)
	w.run(3 * time.Second)
	if got := w.connsPerRelay(20); got[0] < 3 || got[1] < 3 {
		t.Fatalf("connections per relay %v, want both used", got)
	}
}

// When the near relay dies, its connections fall back to the next one.
func TestConnectionsOnALostRelayFallBackToTheNextOne(t *testing.T) {
	w := newChoiceWorld(t, 50*time.Millisecond, 10*time.Millisecond)
	w.run(3 * time.Second)
	if got := w.connsPerRelay(5); got[1] != 5 {
		t.Fatalf("connections per relay %v, want all 5 on the near one", got)
	}
	w.dead[1] = true
	w.flight = nil
	w.run(fastRelay.WithDefaults().LostWithin() + time.Second)
	far, _ := w.n.RelayStats(w.addrs[0])
	near, _ := w.n.RelayStats(w.addrs[1])
	if far.Conns != 5 || near.Conns != 0 || near.Losses == 0 {
		t.Fatalf("after the near relay died: far %+v, near %+v", far, near)
	}
}
