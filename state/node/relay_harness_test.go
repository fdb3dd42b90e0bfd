package node

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// The relay in the pair harness: sim/turnserver, the same sans-IO TURN
// server the simulator runs, answering at relayAddr with relayed addresses
// on relayIP.
var (
	relayIP   = netip.MustParseAddr("10.0.0.9")
	relayAddr = netip.AddrPortFrom(relayIP, 3478)
)

const (
	relayUser     = "u"
	relayPassword = "p"
)

// fastRelay has short request schedules so that a dead relay is noticed
// within seconds: a keepalive every 5 s and a request given up after
// 0.1+0.2+0.4+0.4+0.4 = 1.5 s, so LostWithin is 6.5 s, well inside the
// 15 s ProbeTimeout that would otherwise end the connection first.
var fastRelay = turn.Config{
	KeepaliveInterval: 5 * time.Second,
	RequestRTO:        100 * time.Millisecond,
	RequestRTOMax:     400 * time.Millisecond,
	RequestTransmits:  5,
}

// withRelay starts the TURN server and adds it to both nodes.
func (h *pairHarness) withRelay() { h.withRelayOpts() }

// withRelayOpts is withRelay with options for both nodes' relay.
func (h *pairHarness) withRelayOpts(opts ...RelayOption) {
	cfg := turnserver.Config{
		Realm: "test", Users: []turnserver.Credential{{Username: relayUser, Password: relayPassword}},
		RelayAddr: relayIP, Rand: rand.New(rand.NewPCG(7, 7)),
	}
	if h.relayTweak != nil {
		h.relayTweak(&cfg)
	}
	srv, err := turnserver.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.relay = srv
	for i, n := range h.nodes {
		if err := n.AddRelay(h.now, relayAddr, h.addrs[i], relayUser, relayPassword, opts...); err != nil {
			h.t.Fatal(err)
		}
	}
	h.drain()
}

// drainRelay puts the server's transmits in flight.
func (h *pairHarness) drainRelay() {
	for {
		tr, ok := h.relay.PollTransmit()
		if !ok {
			return
		}
		h.flight = append(h.flight, packet{at: h.now.Add(h.latency), from: fromRelay,
			src: tr.From, dst: tr.To, b: append([]byte(nil), tr.Payload...)})
	}
}

// Inner kinds of what a node sends to the relay.
const (
	innerTURN  = iota // the client's own signalling
	innerCheck        // an ICE check or answer wrapped for a peer
	innerApp          // application data wrapped for a peer
)

// checkWrapped is the harness's invariant on relayed sending, checked on
// every transmit: what goes to the relay wrapping an ICE message is
// Control, wrapped application data is Data, and TURN signalling is
// Control. It also counts them for the tests.
func (h *pairHarness) checkWrapped(i int, tx Transmit) {
	if h.relay == nil || tx.Dst != relayAddr {
		return
	}
	kind := innerTURN
	var inner []byte
	switch stunmsg.ClassifyFromServer(tx.Payload) {
	case stunmsg.ServerChannelData:
		_, inner, _ = stunmsg.DecodeChannelData(tx.Payload)
	case stunmsg.ServerSTUN:
		var m stun.Message
		if stunmsg.Decode(tx.Payload, &m) == nil && m.Type == stun.NewType(stun.MethodSend, stun.ClassIndication) {
			inner, _ = m.Get(stun.AttrData)
		}
	}
	if inner != nil {
		kind = innerApp
		if stunmsg.IsSTUN(inner) {
			kind = innerCheck
		}
	}
	want := gso.Control
	if kind == innerApp {
		want = gso.Data
	}
	if tx.Class != want {
		h.t.Errorf("%s sent %s to the relay as %s, want %s", names[i], describe(tx.Payload), tx.Class, want)
	}
	h.wrapped[i][tx.Class][kind]++
}
