package relay_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/relay"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/sim/world"
)

const (
	realm    = "peerlink.test"
	user     = "alice"
	password = "secret"
)

// scene is two peers behind NATs and a public relay: the default shape of
// a simulation, without the connection core.
type scene struct {
	w      *world.World
	n      *netmodel.Network
	relay  *relay.Relay
	alice  *netmodel.Socket
	bob    *netmodel.Socket
	inbox  map[*netmodel.Socket][]netmodel.Packet // lookups only
	recv   traffic.Receiver
	faulty bool
}

func newScene(t testing.TB, seed uint64, faulty bool) *scene {
	t.Helper()
	w := world.New(world.Config{Seed: seed})
	n := netmodel.New(w)
	sc := &scene{w: w, n: n, inbox: map[*netmodel.Socket][]netmodel.Packet{}, faulty: faulty}
	link := netmodel.LinkConfig{Latency: 10 * time.Millisecond}
	if faulty {
		link = netmodel.LinkConfig{
			Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, LossRate: 0.02,
			Burst:       netmodel.GilbertElliott{GoodToBad: 0.01, BadToGood: 0.3, LossBad: 0.8},
			ReorderRate: 0.01, ReorderDelay: 20 * time.Millisecond, DuplicateRate: 0.01,
			RateBitsPerSecond: 2_000_000, MTU: 1500,
		}
	}
	host := netmodel.HostConfig{Up: link, Down: link}
	rh, err := n.AddHost("relay", netip.MustParseAddr("192.0.2.10"), netmodel.HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sc.relay, err = relay.New(w, rh, relay.Config{Server: turnserver.Config{
		Realm: realm, Users: []turnserver.Credential{{Username: user, Password: password}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"alice", "bob"} {
		nat, err := n.AddNAT(name+"-nat", netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), netmodel.NATConfig{
			Mapping: netmodel.AddressAndPortDependent, Filtering: netmodel.AddressAndPortDependent,
		})
		if err != nil {
			t.Fatal(err)
		}
		h, err := nat.AddHost(name, netip.MustParseAddr("192.168.1.2"), host)
		if err != nil {
			t.Fatal(err)
		}
		s, err := h.Bind(0, netmodel.SocketConfig{})
		if err != nil {
			t.Fatal(err)
		}
		s.SetNotify(func(now time.Time, ev netmodel.SocketEvent) {
			for p, ok := s.ReadFrom(); ok; p, ok = s.ReadFrom() {
				sc.inbox[s] = append(sc.inbox[s], p)
			}
		})
		if i == 0 {
			sc.alice = s
		} else {
			sc.bob = s
		}
	}
	return sc
}

// request sends a STUN request from s to the relay with a transaction id
// from the world's source.
func (sc *scene) request(t testing.TB, s *netmodel.Socket, setters ...stun.Setter) {
	t.Helper()
	var id [stun.TransactionIDSize]byte
	binary.BigEndian.PutUint64(id[:], sc.w.Rand().Uint64())
	m, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter(id)}, setters...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteTo(m.Raw, sc.relay.Addr()); err != nil {
		t.Fatal(err)
	}
}

// last decodes the latest STUN message in s's inbox.
func (sc *scene) last(t *testing.T, s *netmodel.Socket) *stun.Message {
	t.Helper()
	box := sc.inbox[s]
	if len(box) == 0 {
		t.Fatal("nothing received")
	}
	m := &stun.Message{Raw: box[len(box)-1].Payload}
	if err := m.Decode(); err != nil {
		t.Fatal(err)
	}
	return m
}

// keepalive makes every peer send a Binding request to the relay every
// interval, as an idle connection's liveness probes would.
// allocate makes an allocation for s through the 401 challenge, running
// the world a second after each request (not until idle: that would run
// the allocation out), and returns the credentials that signed it.
func (sc *scene) allocate(t *testing.T, s *netmodel.Socket) []stun.Setter {
	t.Helper()
	transport := stunAttr{stun.AttrRequestedTransport, []byte{17, 0, 0, 0}}
	allocate := stun.NewType(stun.MethodAllocate, stun.ClassRequest)
	sc.request(t, s, allocate, transport)
	sc.w.RunFor(time.Second)
	var nonce stun.Nonce
	if err := nonce.GetFrom(sc.last(t, s)); err != nil {
		t.Fatalf("no 401 challenge: %v", err)
	}
	key := stun.NewLongTermIntegrity(user, realm, password)
	auth := []stun.Setter{stun.NewUsername(user), stun.NewRealm(realm), nonce, stun.MessageIntegrity(key)}
	sc.request(t, s, append([]stun.Setter{allocate, transport}, auth...)...)
	sc.w.RunFor(time.Second)
	return auth
}

func (sc *scene) keepalive(t testing.TB, interval time.Duration) {
	for _, s := range []*netmodel.Socket{sc.alice, sc.bob} {
		var tick func(time.Time)
		tick = func(now time.Time) {
			sc.request(t, s, stun.BindingRequest)
			sc.w.After(interval, "app/keepalive", tick)
		}
		sc.w.After(0, "app/keepalive", tick)
	}
}

func TestAPeerBehindASymmetricNATAllocatesOnTheRelayAndHearsFromAPermittedPeer(t *testing.T) {
	sc := newScene(t, 1, false)
	auth := sc.allocate(t, sc.alice)
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(sc.last(t, sc.alice), stun.AttrXORRelayedAddress); err != nil {
		t.Fatalf("no relayed address: %v", err)
	}
	relayedAP := netip.AddrPortFrom(netip.MustParseAddr(relayed.IP.String()), uint16(relayed.Port))

	// Bob's NAT maps him to some public port; the relay's permission is
	// by IP, so Alice permits Bob's NAT address.
	bobPublic := stun.XORMappedAddress{IP: netip.MustParseAddr("198.51.100.2").AsSlice(), Port: 1}
	perm := stun.NewType(stun.MethodCreatePermission, stun.ClassRequest)
	sc.request(t, sc.alice, append([]stun.Setter{perm, xorPeer(bobPublic)}, auth...)...)
	sc.w.RunFor(time.Second) // not until idle: that would run the allocation out
	if m := sc.last(t, sc.alice); m.Type.Class != stun.ClassSuccessResponse {
		var e stun.ErrorCodeAttribute
		e.GetFrom(m)
		t.Fatalf("CreatePermission: %v %v", m, e)
	}
	sc.bob.WriteTo([]byte("hi alice"), relayedAP)
	sc.w.RunFor(time.Second) // not until idle: that would run the allocation out
	m := sc.last(t, sc.alice)
	data, err := m.Get(stun.AttrData)
	if m.Type != stun.NewType(stun.MethodData, stun.ClassIndication) || err != nil || string(data) != "hi alice" {
		t.Fatalf("alice got %v", m)
	}
}

type stunAttr struct {
	t stun.AttrType
	v []byte
}

func (a stunAttr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

func xorPeer(a stun.XORMappedAddress) stun.Setter { return peerSetter(a) }

type peerSetter stun.XORMappedAddress

func (p peerSetter) AddTo(m *stun.Message) error {
	return stun.XORMappedAddress(p).AddToAs(m, stun.AttrXORPeerAddress)
}

// run drives a busy scene for a while and returns its trace hash.
func run(t *testing.T, seed uint64) (uint64, uint64) {
	sc := newScene(t, seed, true)
	sc.keepalive(t, 5*time.Second)
	sendTo := func(from, to *netmodel.Socket, toPublic netip.AddrPort) traffic.SendFunc {
		return func(_ time.Time, b []byte) error { return from.WriteTo(b, toPublic) }
	}
	// Plain traffic to the relay's STUN port (it drops what is not STUN):
	// enough to load the links, NATs and the relay host.
	traffic.Constant(sc.w, world.Epoch, 20*time.Millisecond, 300, 0, sendTo(sc.alice, sc.bob, sc.relay.Addr()))
	traffic.Bursts(sc.w, world.Epoch, 100*time.Millisecond, 8, 1200, 0, sendTo(sc.bob, sc.alice, sc.relay.Addr()))
	sc.w.RunUntil(world.Epoch.Add(time.Minute))
	return sc.w.Trace().Sum(), sc.w.Trace().Len()
}

func TestTheSameSeedGivesTheSameTraceHashAndAnotherSeedDoesNot(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		h1, n1 := run(t, seed)
		h2, n2 := run(t, seed)
		if h1 != h2 || n1 != n2 {
			t.Fatalf("seed %d: %016x (%d records) then %016x (%d records)", seed, h1, n1, h2, n2)
		}
		if n1 < 10000 {
			t.Fatalf("seed %d: only %d records; the scene is not busy enough to test anything", seed, n1)
		}
		if h3, _ := run(t, seed+100); h3 == h1 {
			t.Fatalf("seeds %d and %d gave the same hash", seed, seed+100)
		}
	}
}

// idleHour runs the two-peers-plus-relay world for one simulated hour with
// only keepalives, the cost floor of every long simulation.
func idleHour(t testing.TB) *scene {
	sc := newScene(t, 7, false)
	sc.keepalive(t, 25*time.Second)
	sc.w.RunUntil(world.Epoch.Add(time.Hour))
	return sc
}

func TestAnIdleHourCostsOnlyTheEventsItsTrafficNeeds(t *testing.T) {
	sc := idleHour(t)
	// 2 peers x 145 keepalives, each a request and a response crossing 2
	// links and arriving: a few thousand events, no ticks.
	if f := sc.w.Fired(); f > 5000 {
		t.Fatalf("an idle hour fired %d events", f)
	}
	if got := len(sc.inbox[sc.alice]); got != 144 {
		t.Fatalf("alice got %d keepalive answers, want 144 (the 145th is in flight at the end)", got)
	}
}
