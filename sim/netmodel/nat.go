package netmodel

import (
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// Behavior is how much of the remote endpoint a NAT takes into account, for
// mapping (RFC 4787 section 4.1) or for filtering (section 5).
type Behavior uint8

const (
	// EndpointIndependent: one mapping per internal endpoint, reused for
	// every destination; any remote may send to it.
	EndpointIndependent Behavior = iota
	// AddressDependent: a mapping per destination IP; only IPs the inside
	// has sent to may send in.
	AddressDependent
	// AddressAndPortDependent: a mapping per destination IP and port; only
	// those exact endpoints may send in (a "symmetric" NAT when used for
	// mapping).
	AddressAndPortDependent
)

func (b Behavior) String() string {
	switch b {
	case EndpointIndependent:
		return "endpoint-independent"
	case AddressDependent:
		return "address-dependent"
	case AddressAndPortDependent:
		return "address-and-port-dependent"
	}
	return "invalid"
}

// NAT defaults.
const (
	// DefaultBindingTimeout is RFC 4787 REQ-5's floor: a UDP binding must
	// not expire in less than two minutes.
	DefaultBindingTimeout = 2 * time.Minute
	// DefaultMaxBindings bounds the binding table; past it new flows are
	// dropped, as a real NAT's table exhaustion does.
	DefaultMaxBindings = 4096
	// DefaultMaxPeersPerBinding bounds the remote endpoints a binding
	// remembers for filtering.
	DefaultMaxPeersPerBinding = 256
	// portTries bounds random probes for a free port before a linear scan.
	portTries = 64
)

// NATConfig describes a NAT. The zero value is a full-cone NAT
// (endpoint-independent mapping and filtering) with RFC 4787's defaults.
type NATConfig struct {
	Mapping   Behavior
	Filtering Behavior
	// BindingTimeout is how long a binding lives after the traffic that
	// refreshes it. 0 means DefaultBindingTimeout.
	BindingTimeout time.Duration
	// InboundRefresh lets inbound packets refresh a binding too (RFC 4787
	// REQ-6 makes outbound refresh mandatory and inbound optional).
	InboundRefresh bool
	// PortMin and PortMax bound the external ports handed out (both 0: 1024
	// to 65535). Ports are drawn from the world's random source, so a
	// peer cannot predict them and a seed reproduces them.
	PortMin, PortMax   uint16
	MaxBindings        int // 0 means DefaultMaxBindings
	MaxPeersPerBinding int // 0 means DefaultMaxPeersPerBinding
}

// NATStats counts what a NAT did.
type NATStats struct {
	Bindings, Expired                  uint64
	OutboundTranslated, InboundAllowed uint64
	DropNoMapping, DropFiltered        uint64
	DropTableFull, DropNoPorts         uint64
	// Flushed counts bindings forgotten by Rebind.
	Flushed uint64
}

type bindKey struct {
	internal netip.AddrPort
	remote   netip.AddrPort // the part of the destination the mapping depends on
}

type peer struct {
	ep   netip.AddrPort
	last time.Time // last outbound packet to ep through the binding
}

type binding struct {
	key      bindKey
	external netip.AddrPort
	active   time.Time // last refresh
	peers    []peer
}

// NAT translates between a private network (its hosts) and one public
// address. Bindings expire lazily: a binding idle longer than the timeout is
// treated as gone when next looked up, so an idle NAT schedules no events.
type NAT struct {
	w        *world.World
	n        *Network
	name     string
	public   netip.Addr
	cfg      NATConfig
	byKey    map[bindKey]*binding // lookups only
	byPort   map[uint16]*binding  // lookups only
	bindings []*binding           // creation order, for deterministic sweeps
	lan      map[netip.Addr]*Host // hosts behind the NAT, by private address
	stats    NATStats
}

func newNAT(n *Network, name string, public netip.Addr, cfg NATConfig) *NAT {
	if cfg.BindingTimeout <= 0 {
		cfg.BindingTimeout = DefaultBindingTimeout
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = 1024, 65535
	}
	if cfg.MaxBindings <= 0 {
		cfg.MaxBindings = DefaultMaxBindings
	}
	if cfg.MaxPeersPerBinding <= 0 {
		cfg.MaxPeersPerBinding = DefaultMaxPeersPerBinding
	}
	return &NAT{
		w: n.w, n: n, name: "nat:" + name, public: public, cfg: cfg,
		byKey:  make(map[bindKey]*binding),
		byPort: make(map[uint16]*binding),
		lan:    make(map[netip.Addr]*Host),
	}
}

// Public is the NAT's external address.
func (t *NAT) Public() netip.Addr { return t.public }

// Stats returns the NAT's counters.
func (t *NAT) Stats() NATStats { return t.stats }

// Bindings is the number of live bindings.
func (t *NAT) Bindings() int {
	t.sweep()
	return len(t.bindings)
}

// Mapped returns the external endpoint a packet from internal to remote
// would leave with, if a live binding exists.
func (t *NAT) Mapped(internal, remote netip.AddrPort) (netip.AddrPort, bool) {
	b := t.lookup(t.key(internal, remote))
	if b == nil {
		return netip.AddrPort{}, false
	}
	return b.external, true
}

func (t *NAT) key(internal, remote netip.AddrPort) bindKey {
	switch t.cfg.Mapping {
	case AddressDependent:
		return bindKey{internal, netip.AddrPortFrom(remote.Addr(), 0)}
	case AddressAndPortDependent:
		return bindKey{internal, remote}
	}
	return bindKey{internal: internal}
}

func (t *NAT) expired(b *binding) bool {
	return t.w.Now().Sub(b.active) >= t.cfg.BindingTimeout
}

// lookup finds a live binding, forgetting it if it has expired.
func (t *NAT) lookup(k bindKey) *binding {
	b := t.byKey[k]
	if b != nil && t.expired(b) {
		t.remove(b)
		return nil
	}
	return b
}

func (t *NAT) remove(b *binding) {
	delete(t.byKey, b.key)
	delete(t.byPort, b.external.Port())
	t.bindings = slices.DeleteFunc(t.bindings, func(x *binding) bool { return x == b })
	t.stats.Expired++
	t.w.NoteFlow(t.name, "nat_expire", b.key.internal, b.external)
}

// sweep forgets every expired binding, oldest first.
func (t *NAT) sweep() {
	for i := 0; i < len(t.bindings); {
		if b := t.bindings[i]; t.expired(b) {
			t.remove(b)
			continue
		}
		i++
	}
}

// outbound translates a packet leaving the private side. It reports false
// (and has counted the drop) when no binding could be made.
func (t *NAT) outbound(p *Packet) bool {
	k := t.key(p.Src, p.Dst)
	b := t.lookup(k)
	if b == nil {
		if b = t.bind(k, p); b == nil {
			return false
		}
	}
	now := t.w.Now()
	b.active = now
	t.remember(b, p.Dst, now)
	p.Src = b.external
	t.stats.OutboundTranslated++
	return true
}

func (t *NAT) bind(k bindKey, p *Packet) *binding {
	if len(t.bindings) >= t.cfg.MaxBindings {
		t.sweep()
	}
	if len(t.bindings) >= t.cfg.MaxBindings {
		t.stats.DropTableFull++
		t.w.Drop(t.name, DropNATTableFull, p.ID, p.Src, p.Dst, len(p.Payload))
		return nil
	}
	port, ok := t.freePort()
	if !ok {
		t.stats.DropNoPorts++
		t.w.Drop(t.name, DropNATNoPorts, p.ID, p.Src, p.Dst, len(p.Payload))
		return nil
	}
	b := &binding{key: k, external: netip.AddrPortFrom(t.public, port)}
	t.byKey[k] = b
	t.byPort[port] = b
	t.bindings = append(t.bindings, b)
	t.stats.Bindings++
	t.w.NoteFlow(t.name, "nat_bind", k.internal, b.external)
	return b
}

// freePort draws a random free port in range; after portTries misses it
// scans from a random start, so a nearly full range still finds a port.
func (t *NAT) freePort() (uint16, bool) {
	lo, hi := int(t.cfg.PortMin), int(t.cfg.PortMax)
	span := hi - lo + 1
	rng := t.w.Rand()
	free := func(port int) bool {
		b := t.byPort[uint16(port)]
		if b != nil && t.expired(b) {
			t.remove(b)
			b = nil
		}
		return b == nil
	}
	for i := 0; i < portTries; i++ {
		if port := lo + rng.IntN(span); free(port) {
			return uint16(port), true
		}
	}
	start := rng.IntN(span)
	for i := 0; i < span; i++ {
		if port := lo + (start+i)%span; free(port) {
			return uint16(port), true
		}
	}
	return 0, false
}

// remember notes that the inside sent to ep, for filtering.
func (t *NAT) remember(b *binding, ep netip.AddrPort, now time.Time) {
	for i := range b.peers {
		if b.peers[i].ep == ep {
			b.peers[i].last = now
			return
		}
	}
	if len(b.peers) >= t.cfg.MaxPeersPerBinding {
		// Forget the stalest peer: a bounded table must lose someone, and
		// the one silent longest is the one a real NAT would have expired.
		oldest := 0
		for i := range b.peers {
			if b.peers[i].last.Before(b.peers[oldest].last) {
				oldest = i
			}
		}
		b.peers = slices.Delete(b.peers, oldest, oldest+1)
	}
	b.peers = append(b.peers, peer{ep: ep, last: now})
}

// inbound translates a packet arriving at the public address and returns
// the private host it goes to, or nil (drop counted).
func (t *NAT) inbound(p *Packet) *Host {
	b := t.byPort[p.Dst.Port()]
	if b != nil && t.expired(b) {
		t.remove(b)
		b = nil
	}
	if b == nil {
		t.stats.DropNoMapping++
		t.w.Drop(t.name, DropNATNoMapping, p.ID, p.Src, p.Dst, len(p.Payload))
		return nil
	}
	if !t.allowed(b, p.Src) {
		t.stats.DropFiltered++
		t.w.Drop(t.name, DropNATFiltered, p.ID, p.Src, p.Dst, len(p.Payload))
		return nil
	}
	if t.cfg.InboundRefresh {
		b.active = t.w.Now()
	}
	t.stats.InboundAllowed++
	p.Dst = b.key.internal
	h := t.lan[p.Dst.Addr()]
	if h == nil {
		t.w.Drop(t.name, DropNoRoute, p.ID, p.Src, p.Dst, len(p.Payload))
	}
	return h
}

// allowed applies the filtering behaviour. A peer permission lives as long
// as a binding would: the timeout after the last packet sent to it.
func (t *NAT) allowed(b *binding, from netip.AddrPort) bool {
	if t.cfg.Filtering == EndpointIndependent {
		return true
	}
	now := t.w.Now()
	for _, pr := range b.peers {
		if now.Sub(pr.last) >= t.cfg.BindingTimeout {
			continue
		}
		if pr.ep == from || (t.cfg.Filtering == AddressDependent && pr.ep.Addr() == from.Addr()) {
			return true
		}
	}
	return false
}
