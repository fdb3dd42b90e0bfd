package scenario

import (
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
)

// Scenario is a named, described Spec maker.
type Scenario struct {
	Name  string
	About string
	// Spec builds the scenario's Spec for a seed.
	Spec func(seed uint64) Spec
}

// Options adjust a scenario for one run.
type Options struct {
	Seed uint64
	// Duration, when positive, replaces the scenario's time before the cut
	// (or its whole length, when it has no cut); what follows the cut keeps
	// its length.
	Duration time.Duration
	// KernelDataBudget overrides the scenario's kernel budget in bytes
	// when positive; negative turns the budget off.
	KernelDataBudget int
}

// DefaultName is the scenario the CLI runs without -scenario.
const DefaultName = "saturated-cut"

// registry holds the scenarios in registration order. It is filled by this
// package's init and read only afterwards.
var registry []Scenario

func init() {
	register(Scenario{Name: DefaultName, About: aboutSaturatedCut, Spec: saturatedCut})
	register(Scenario{Name: "idle-hour", About: "two peers behind NATs and a relay, connected and idle for one hour", Spec: idleHour})
	register(Scenario{Name: "relay-only", About: "two peers behind symmetric (address-and-port-dependent) NATs: only the relay connects them; a constant load for two minutes", Spec: relayOnly})
	register(Scenario{Name: "roam", About: aboutRoam, Spec: roam})
	register(Scenario{Name: "relay-choice", About: "relay-only with two relays, one 80 ms farther each way and added first: each side must carry the connection on the near one", Spec: relayChoice})
	register(Scenario{Name: "relay-restart", About: "relay-only, and the TURN server restarts after one minute, forgetting every allocation: the connection must move to new ones without failing", Spec: relayRestart})
	register(Scenario{Name: "relay-tcp-restart", About: "relay-restart with both peers reaching the relay over TCP (a modelled stream; the relayed leg is UDP): the restart also breaks the streams", Spec: relayTCPRestart})
}

func register(s Scenario) {
	if _, dup := Lookup(s.Name); dup {
		panic("scenario: " + s.Name + " registered twice")
	}
	registry = append(registry, s)
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range registry {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Names lists the scenarios, sorted.
func Names() []string {
	var out []string
	for _, s := range registry {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

// Build makes the Spec of a scenario with options applied.
func (s Scenario) Build(o Options) Spec {
	spec := s.Spec(o.Seed)
	spec.Name, spec.Seed = s.Name, o.Seed
	switch {
	case o.KernelDataBudget > 0:
		spec.KernelDataBudget = o.KernelDataBudget
	case o.KernelDataBudget < 0:
		spec.KernelDataBudget = 0
	}
	if o.Duration > 0 {
		if spec.CutAt > 0 {
			after := spec.End - spec.CutAt
			spec.CutAt = o.Duration
			spec.End = o.Duration + after
		} else {
			spec.End = o.Duration
		}
	}
	return spec
}

var aboutSaturatedCut = strings.Join([]string{
	"two peers behind endpoint-independent NATs and a relay; alice's uplink is a 1 Mbit/s bottleneck;",
	"alice saturates it for 10 minutes with two flows, 1200-byte datagrams and 40-byte ones (smaller than",
	"any probe, as a tunnel's TCP acknowledgements are), then her links are cut",
}, " ")

// eiNAT is an endpoint-independent NAT (mapping and filtering): the peers
// connect directly through it, and a relayed pair is only the backup.
func eiNAT() *netmodel.NATConfig {
	return &netmodel.NATConfig{Mapping: netmodel.EndpointIndependent, Filtering: netmodel.EndpointIndependent}
}

func saturatedCut(seed uint64) Spec {
	access := netmodel.LinkConfig{Latency: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, RateBitsPerSecond: 50_000_000}
	bottleneck := access
	bottleneck.RateBitsPerSecond = 1_000_000
	return Spec{
		Seed: seed,
		Peers: [2]PeerSpec{
			{Name: "alice", NAT: eiNAT(), Link: netmodel.HostConfig{Up: bottleneck, Down: access}},
			{Name: "bob", NAT: eiNAT(), Link: netmodel.HostConfig{Up: access, Down: access}},
		},
		Relay: true,
		Loads: []LoadSpec{
			{Kind: Saturating, From: 0, Size: 1200, Start: 2 * time.Second},
			{Kind: Saturating, From: 0, Size: 40, Start: 2 * time.Second},
		},
		// As the real drivers run by default.
		KernelDataBudget: pump.DefaultConfig().KernelDataBudget,
		CutAt:            10 * time.Minute,
		// After the cut, long enough for the idle timeout (60 s) too.
		End:     10*time.Minute + 90*time.Second,
		Restart: time.Second,
	}
}

func idleHour(seed uint64) Spec {
	return Spec{
		Seed:             seed,
		Peers:            twoPeers(eiNAT),
		Relay:            true,
		KernelDataBudget: pump.DefaultConfig().KernelDataBudget,
		End:              time.Hour,
		Restart:          time.Second,
		Bucket:           time.Minute,
	}
}

// twoPeers are alice and bob, each behind a NAT of its own made by nat, on
// the same fast access link both ways.
func twoPeers(nat func() *netmodel.NATConfig) [2]PeerSpec {
	access := netmodel.LinkConfig{Latency: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, RateBitsPerSecond: 50_000_000}
	link := netmodel.HostConfig{Up: access, Down: access}
	return [2]PeerSpec{{Name: "alice", NAT: nat(), Link: link}, {Name: "bob", NAT: nat(), Link: link}}
}

// symmetricNAT maps every destination to a new port and filters by it: a
// peer's server-reflexive candidate is useless to the other peer.
func symmetricNAT() *netmodel.NATConfig {
	return &netmodel.NATConfig{Mapping: netmodel.AddressAndPortDependent, Filtering: netmodel.AddressAndPortDependent}
}

func relayOnly(seed uint64) Spec {
	return Spec{
		Seed:             seed,
		Peers:            twoPeers(symmetricNAT),
		Relay:            true,
		Loads:            []LoadSpec{{Kind: Constant, From: 0, Size: 200, Interval: 20 * time.Millisecond, Start: time.Second}},
		KernelDataBudget: pump.DefaultConfig().KernelDataBudget,
		End:              2 * time.Minute,
	}
}

// relayRestart is relayOnly with the TURN server restarting halfway: the
// allocations are refreshed only every five minutes, so the clients must
// notice the loss from their connection's silence, not from a Refresh.
func relayRestart(seed uint64) Spec {
	s := relayOnly(seed)
	s.RelayRestartAt = time.Minute
	return s
}

// relayTCPRestart is relayRestart over TCP to the relay, with payloads of
// 201 bytes, whose ChannelData needs padding on the streams.
func relayTCPRestart(seed uint64) Spec {
	s := relayRestart(seed)
	s.RelayTransport = node.TCP
	s.Loads[0].Size = 201
	return s
}

// relayChoice is relayOnly with a second relay 80 ms farther each way:
// about 190 ms of round trip against 30 ms, far outside the 1.5 times of
// the best within which a connection may use a relay.
func relayChoice(seed uint64) Spec {
	s := relayOnly(seed)
	s.FarRelay = 80 * time.Millisecond
	return s
}
