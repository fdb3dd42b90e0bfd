package netmodel

import (
	"errors"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// ErrPortInUse is returned by Bind for a port that already has a socket.
var ErrPortInUse = errors.New("netmodel: port in use")

// Ephemeral ports Bind(0) picks from (the IANA dynamic range).
const (
	ephemeralMin = 49152
	ephemeralMax = 65535
)

// HostConfig is a host's access link, one LinkConfig per direction.
type HostConfig struct {
	Up   LinkConfig // host toward the network; its rate drains the sockets' send buffers
	Down LinkConfig // network toward the host
}

// Host is a machine with one address, an uplink and a downlink, and
// sockets. A host behind a NAT has a private address; its packets are
// translated after the uplink and before the downlink.
type Host struct {
	w        *world.World
	n        *Network
	name     string
	addr     netip.Addr
	nat      *NAT
	up, down *Link
	sockets  map[uint16]*Socket // lookups only
	wildcard *Socket            // receives for every port without a socket
}

func newHost(n *Network, name string, addr netip.Addr, nat *NAT, cfg HostConfig) *Host {
	h := &Host{w: n.w, n: n, name: name, addr: addr, nat: nat, sockets: make(map[uint16]*Socket)}
	h.up = NewLink(n.w, name+"/up", cfg.Up, h.egress)
	h.down = NewLink(n.w, name+"/down", cfg.Down, h.ingress)
	return h
}

// Name is the host's label in the trace.
func (h *Host) Name() string { return h.name }

// Addr is the host's own (private, if behind a NAT) address.
func (h *Host) Addr() netip.Addr { return h.addr }

// NAT is the NAT the host sits behind, or nil.
func (h *Host) NAT() *NAT { return h.nat }

// Up and Down are the host's access links, for changing their parameters or
// cutting them during a run.
func (h *Host) Up() *Link   { return h.up }
func (h *Host) Down() *Link { return h.down }

// CutDuring cuts both access links from start until end (a zero end never
// heals): the host drops off the network.
func (h *Host) CutDuring(start, end time.Time) {
	h.w.Schedule(start, h.name+"/cut", func(time.Time) {
		h.up.SetDown(true)
		h.down.SetDown(true)
	})
	if !end.IsZero() {
		h.w.Schedule(end, h.name+"/heal", func(time.Time) {
			h.up.SetDown(false)
			h.down.SetDown(false)
		})
	}
}

// Bind opens a socket on port; port 0 picks a free ephemeral port from the
// world's random source.
func (h *Host) Bind(port uint16, cfg SocketConfig) (*Socket, error) {
	if port == 0 {
		var ok bool
		if port, ok = h.ephemeralPort(); !ok {
			return nil, ErrPortInUse
		}
	}
	if h.sockets[port] != nil {
		return nil, ErrPortInUse
	}
	s := newSocket(h, netip.AddrPortFrom(h.addr, port), cfg)
	h.sockets[port] = s
	return s, nil
}

// BindAll opens the host's wildcard socket: it receives datagrams for every
// port that has no socket of its own and may send from any port of the
// host. A relay uses it to serve all its relayed addresses.
func (h *Host) BindAll(cfg SocketConfig) (*Socket, error) {
	if h.wildcard != nil {
		return nil, ErrPortInUse
	}
	h.wildcard = newSocket(h, netip.AddrPortFrom(h.addr, 0), cfg)
	return h.wildcard, nil
}

func (h *Host) ephemeralPort() (uint16, bool) {
	span := ephemeralMax - ephemeralMin + 1
	start := h.w.Rand().IntN(span)
	for i := 0; i < span; i++ {
		p := uint16(ephemeralMin + (start+i)%span)
		if h.sockets[p] == nil {
			return p, true
		}
	}
	return 0, false
}

func (h *Host) unbind(s *Socket) {
	if s == h.wildcard {
		h.wildcard = nil
		return
	}
	if h.sockets[s.local.Port()] == s {
		delete(h.sockets, s.local.Port())
	}
}

// egress takes a packet off the uplink: to a neighbour on the same private
// network directly, otherwise through the NAT (if any) into the core.
func (h *Host) egress(p Packet) {
	if h.nat != nil {
		if nb := h.nat.lan[p.Dst.Addr().Unmap()]; nb != nil {
			nb.down.Send(p)
			return
		}
		if !h.nat.outbound(&p) {
			return
		}
	}
	h.n.route(p)
}

// ingress takes a packet off the downlink and queues it at its socket.
func (h *Host) ingress(p Packet) {
	s := h.sockets[p.Dst.Port()]
	if s == nil {
		s = h.wildcard
	}
	if s == nil {
		h.w.Drop(h.name, DropPortUnreachable, p.ID, p.Src, p.Dst, len(p.Payload))
		return
	}
	s.deliver(p)
}
