package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/signal"
)

// portDependentOpenNATs puts both peers behind NATs that map per
// destination port but let anyone in (endpoint-independent filtering).
// Between them every direct check to a peer-reflexive address leaves
// through a fresh mapping and comes back from another, so each side learns
// peer-reflexive candidates until its table is full; only the relay
// connects them.
func portDependentOpenNATs(seed uint64) Spec {
	access := netmodel.LinkConfig{Latency: 10 * time.Millisecond, Jitter: time.Millisecond}
	nat := func() *netmodel.NATConfig {
		return &netmodel.NATConfig{Mapping: netmodel.AddressAndPortDependent, Filtering: netmodel.EndpointIndependent}
	}
	return Spec{
		Name: "port-dependent-open-nats",
		Seed: seed,
		Peers: [2]PeerSpec{
			{Name: "alice", NAT: nat(), Link: netmodel.HostConfig{Up: access, Down: access}},
			{Name: "bob", NAT: nat(), Link: netmodel.HostConfig{Up: access, Down: access}},
		},
		Relay:  true,
		Signal: signal.Config{Delay: time.Millisecond, Jitter: 90 * time.Millisecond},
		End:    30 * time.Second,
	}
}

// The controlled side used to stay unconnected here: its table was full
// of peer-reflexive candidates from the direct checks by the time the
// controlling peer's checks came through the relay (the signalling jitter
// delays the relay pairs past the first second), so the peer's mapping
// toward our relayed address was refused (DropCandidateLimit) although its
// checks were answered. Alice reported Connected through Bob's relay at
// about 2 s; Bob never did. Seed 1 is one such world; most seeds are.
func TestBothPeersConnectThroughTheRelayWhenDirectChecksFloodTheirPeerReflexiveCandidates(t *testing.T) {
	// The fix is in state/internal/iceagent (pairForRequest: a check through our relay
	// may evict the oldest unused peer-reflexive candidate).
	res, err := Run(portDependentOpenNATs(1))
	if err != nil {
		t.Fatal(err)
	}
	var connectedAt [2]time.Duration
	for _, c := range res.Timeline {
		if c.Failed {
			t.Fatalf("%v", c)
		}
		if !strings.Contains(c.Event, "relay") {
			t.Fatalf("side %d on a path without the relay: %v", c.Side, c)
		}
		if connectedAt[c.Side] == 0 {
			connectedAt[c.Side] = c.At
		}
	}
	for side, at := range connectedAt {
		// Checks through the relay start once both allocations are
		// signalled (well under a second, plus the jitter); five seconds
		// leaves room for a few retransmissions.
		if at == 0 || at > 5*time.Second {
			t.Fatalf("side %d connected at %v; timeline %v", side, at, res.Timeline)
		}
	}
}
