package node_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
)

// endpoint is one side of Example_eventLoop: a Node and the address of
// its socket.
type endpoint struct {
	name string
	n    *node.Node
	addr netip.AddrPort
	up   bool
}

// datagram is one datagram on the example's wire.
type datagram struct {
	src, dst netip.AddrPort
	b        []byte
}

// A program with its own event loop drives the Node itself: after every
// input or command it drains PollTransmit and PollEvent, and it calls
// HandleTimeout when the PollTimeout deadline comes. Here the loop runs
// two Nodes on one clock of its own, joined by a wire in memory that
// carries each datagram in 10 ms and by signalling that is instant; a
// real program sends the transmits through a gso.Queue to its socket
// (node/doc.go) and reads the clock.
func Example_eventLoop() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	newEndpoint := func(name, addr string) *endpoint {
		n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))})
		if err != nil {
			panic(err)
		}
		e := &endpoint{name: name, n: n, addr: netip.MustParseAddrPort(addr)}
		if err := n.AddLocalAddress(now, e.addr); err != nil {
			panic(err)
		}
		return e
	}
	alice, bob := newEndpoint("alice", "192.0.2.1:4000"), newEndpoint("bob", "198.51.100.2:4000")
	peers := []*endpoint{alice, bob}
	const id node.ConnID = 7

	// The offer and the answer.
	aliceCreds := ice.NewCredentials(rng)
	bobCreds, err := bob.n.Connect(now, id, node.Controlled, node.Credentials{}, aliceCreds)
	if err != nil {
		panic(err)
	}
	if _, err := alice.n.Connect(now, id, node.Controlling, aliceCreds, bobCreds); err != nil {
		panic(err)
	}

	var wire []datagram
	// drain takes every output of e: transmits go on the wire (copied, as
	// a queue would), candidates to the peer, Connected is reported.
	drain := func(e, peer *endpoint) {
		for t, ok := e.n.PollTransmit(); ok; t, ok = e.n.PollTransmit() {
			wire = append(wire, datagram{t.Src, t.Dst, bytes.Clone(t.Payload)})
		}
		for ev, ok := e.n.PollEvent(); ok; ev, ok = e.n.PollEvent() {
			switch ev := ev.(type) {
			case node.CandidateGathered:
				c, err := node.ParseCandidate(ev.Candidate.Marshal())
				if err == nil {
					err = peer.n.AddRemoteCandidate(now, id, c)
				}
				if err != nil {
					panic(err)
				}
			case node.Connected:
				e.up = true
				fmt.Println(e.name, "connected")
			case node.Failed:
				fmt.Println(e.name, "failed:", ev.Reason)
			}
		}
	}

	sent := false
	for step := 0; step < 10000; step++ {
		drain(alice, bob)
		drain(bob, alice)
		if alice.up && bob.up && !sent {
			sent = true
			if err := alice.n.Send(now, id, []byte("hello, bob")); err != nil {
				panic(err)
			}
			continue // drain the Data transmit
		}
		if len(wire) > 0 {
			// Everything on the wire arrives 10 ms later.
			now = now.Add(10 * time.Millisecond)
			arriving := wire
			wire = nil
			for _, d := range arriving {
				for _, p := range peers {
					if p.addr != d.dst {
						continue
					}
					if _, payload, ok := p.n.HandleDatagram(now, d.dst, d.src, d.b); ok {
						fmt.Printf("%s received %q\n", p.name, payload)
						return
					}
				}
			}
			continue
		}
		// Nothing in flight: jump to the earliest deadline.
		next, ok := time.Time{}, false
		for _, p := range peers {
			if at, _, has := p.n.PollTimeout(); has && (!ok || at.Before(next)) {
				next, ok = at, true
			}
		}
		if !ok {
			break
		}
		now = next
		for _, p := range peers {
			if at, _, has := p.n.PollTimeout(); has && !at.After(now) {
				p.n.HandleTimeout(now)
			}
		}
	}
	// The controlled side connects first: alice's nominating check reaches
	// bob before its answer reaches her.

	// Output:
	// bob connected
	// alice connected
	// bob received "hello, bob"
}
