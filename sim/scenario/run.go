package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/relay"
	"github.com/peerlink/peerlink/sim/signal"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// ConnID is the one connection every scenario sets up.
const ConnID node.ConnID = 1

// Relay credentials: both peers' Nodes allocate on the relay with them.
const (
	RelayRealm    = "peerlink.sim"
	RelayUser     = "peer"
	RelayPassword = "peer-secret"
)

// Addresses of the topology. Each NAT gets its own private prefix, so a
// peer's host candidate is unreachable (no route) from the other peer, as
// across two home networks.
var (
	relayAddr = netip.MustParseAddr("192.0.2.10")
	// FarRelayAddr is the far relay's address (Spec.FarRelay).
	FarRelayAddr = netip.MustParseAddr("192.0.2.20")
	natAddr      = [2]netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")}
	lanAddr      = [2]netip.Addr{netip.MustParseAddr("192.168.1.2"), netip.MustParseAddr("192.168.2.2")}
	pubAddr      = [2]netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")}
)

// errDown is what a load's sender gets while its side is not connected:
// the application holds its data until Connected.
var errDown = errors.New("scenario: connection not up")

// run is one world being built and driven.
type run struct {
	spec  Spec
	w     *world.World
	net   *netmodel.Network
	relay *relay.Relay
	far   *relay.Relay // Spec.FarRelay
	hosts [2]*host.Host
	sess  *host.Session
	gens  []*traffic.Generator
	rec   *recorder
	// streams are the peers' streams to the relay (Spec.RelayTransport).
	streams []*relay.Stream
}

// Run builds the world a Spec describes, runs it to its End and returns
// what happened.
func Run(spec Spec) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Bucket <= 0 {
		spec.Bucket = defaultBucket
	}
	if n := spec.End / spec.Bucket; n > maxBuckets {
		spec.Bucket = spec.End/maxBuckets + 1
	}
	r := &run{spec: spec, w: world.New(world.Config{Seed: spec.Seed})}
	r.net = netmodel.New(r.w)
	r.rec = newRecorder(&r.spec)
	if err := r.build(); err != nil {
		return nil, err
	}
	r.w.RunUntil(world.Epoch.Add(spec.End))
	return r.result(), nil
}

func (r *run) build() error {
	if r.spec.Relay {
		var err error
		if r.relay, err = r.newRelay("relay", relayAddr, netmodel.HostConfig{}); err != nil {
			return err
		}
	}
	if r.spec.FarRelay > 0 {
		far := netmodel.LinkConfig{Latency: r.spec.FarRelay}
		var err error
		if r.far, err = r.newRelay("relay-far", FarRelayAddr, netmodel.HostConfig{Up: far, Down: far}); err != nil {
			return err
		}
	}
	for i := range r.hosts {
		h, err := r.peer(i)
		if err != nil {
			return fmt.Errorf("scenario: peer %d: %w", i, err)
		}
		r.hosts[i] = h
	}
	ch := signal.New(r.w, r.spec.Signal)
	r.sess = host.Connect(r.w, ch, r.hosts[0], r.hosts[1], host.SessionConfig{ID: ConnID, Restart: r.spec.Restart})
	r.sess.OnChange(r.rec.change)
	for i, l := range r.spec.Loads {
		r.load(i, l)
	}
	if r.spec.RelayRestartAt > 0 {
		r.w.Schedule(world.Epoch.Add(r.spec.RelayRestartAt), "relay/restart", func(time.Time) {
			if err := r.relay.Restart(); err != nil {
				panic("scenario: relay restart: " + err.Error()) // the config worked at New
			}
		})
	}
	if r.spec.CutAt > 0 {
		r.hosts[r.spec.CutPeer].Net().CutDuring(world.Epoch.Add(r.spec.CutAt), time.Time{})
	}
	r.scheduleChanges()
	return nil
}

// newRelay puts a TURN relay host in the world.
func (r *run) newRelay(name string, addr netip.Addr, link netmodel.HostConfig) (*relay.Relay, error) {
	rh, err := r.net.AddHost(name, addr, link)
	if err != nil {
		return nil, err
	}
	return relay.New(r.w, rh, relay.Config{Server: turnserver.Config{
		Realm: RelayRealm, Users: []turnserver.Credential{{Username: RelayUser, Password: RelayPassword}},
		// Over a stream ChannelData must be padded; over UDP padding is
		// allowed, so the server pads for every client then.
		PadChannelData: r.spec.RelayTransport.Stream(),
	}})
}

func (r *run) peer(i int) (*host.Host, error) {
	p := r.spec.Peers[i]
	name := p.Name
	if name == "" {
		name = []string{"alice", "bob"}[i]
	}
	var nh *netmodel.Host
	var err error
	if p.NAT != nil {
		nat, nerr := r.net.AddNAT(name+"-nat", natAddr[i], *p.NAT)
		if nerr != nil {
			return nil, nerr
		}
		nh, err = nat.AddHost(name, lanAddr[i], p.Link)
	} else {
		nh, err = r.net.AddHost(name, pubAddr[i], p.Link)
	}
	if err != nil {
		return nil, err
	}
	side := i
	h, err := host.New(r.w, nh, host.Config{
		// The relay is no STUN server of the Node: its TURN client's
		// Binding gives the server-reflexive candidate (see node's doc).
		Node:      node.Config{ICE: r.spec.ICE},
		Pump:      pump.Config{Queue: gso.Config{Policy: r.spec.Policy}, KernelDataBudget: r.spec.KernelDataBudget, DataQueueDelay: r.spec.DataQueueDelay},
		Socket:    p.Socket,
		OnControl: func(s host.ControlSample) { r.rec.control(side, s) },
		OnData:    func(now time.Time, _ node.ConnID, b []byte) { r.rec.data(now, side, b) },
		OnSettle:  func(now time.Time, h *host.Host) { r.rec.sample(now, side, h) },
	})
	if err != nil || r.relay == nil {
		return h, err
	}
	return h, h.Do(func(now time.Time, n *node.Node) error {
		// The far relay first: the order relays are added in must not be
		// what makes the near one win.
		if r.far != nil {
			if err := n.AddRelay(now, r.far.Addr(), h.LocalAddr(), RelayUser, RelayPassword); err != nil {
				return err
			}
		}
		return n.AddRelay(now, r.relay.Addr(), h.LocalAddr(), RelayUser, RelayPassword, r.streamTo(h, p)...)
	})
}

// load starts one traffic source. Its payloads carry the load's index and
// the sender's current path after the stamp, so the receiver checks each
// load's order separately, and within each path.
func (r *run) load(idx int, l LoadSpec) {
	from := l.From
	send := func(now time.Time, b []byte) error {
		if !r.sess.Up(from) {
			return errDown
		}
		b[loadTag] = byte(idx)
		b[pathTag] = r.rec.path(from)
		err := r.hosts[from].Send(ConnID, b)
		switch {
		case err == nil:
			r.rec.sent(now, from, len(b))
		case errors.Is(err, gso.ErrQueueFull):
			// The Node took it (and counts it as traffic); the queue
			// refused it.
			r.rec.app(now, from)
		}
		return err
	}
	start := world.Epoch.Add(l.Start)
	var g *traffic.Generator
	switch l.Kind {
	case Constant:
		g = traffic.Constant(r.w, start, l.Interval, l.Size, 0, send)
	case Bursts:
		g = traffic.Bursts(r.w, start, l.Interval, l.Burst, l.Size, 0, send)
	case Saturating:
		g = traffic.Saturating(r.w, start, l.Size, 0, send)
		// A refused saturating source waits for one of these.
		r.hosts[from].OnWritable(g.Writable)
		r.sess.OnChange(func(now time.Time, side int, e node.Event) {
			if _, up := e.(node.Connected); up && side == from {
				g.Writable(now)
			}
		})
	}
	r.gens = append(r.gens, g)
}
