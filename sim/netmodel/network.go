package netmodel

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// Errors for setup mistakes.
var (
	ErrAddrInUse   = errors.New("netmodel: address already attached")
	ErrInvalidAddr = errors.New("netmodel: invalid address")
)

// Partition blocks packets whose source address is in From and whose
// destination address is in To, checked in the core after NAT translation
// (so a host behind a NAT is matched by its NAT's public address).
type Partition struct {
	From, To netip.Prefix
}

// Network is the core that joins hosts and NATs by their public addresses.
// It adds no delay itself: every delay lives in the hosts' links.
type Network struct {
	w          *world.World
	hosts      map[netip.Addr]*Host // public hosts; lookups only
	nats       map[netip.Addr]*NAT  // lookups only
	partitions []partitionRule      // in creation order
	nextRule   uint64
}

type partitionRule struct {
	id uint64
	Partition
}

// New makes an empty network in w.
func New(w *world.World) *Network {
	return &Network{
		w:     w,
		hosts: make(map[netip.Addr]*Host),
		nats:  make(map[netip.Addr]*NAT),
	}
}

// World is the world the network lives in.
func (n *Network) World() *world.World { return n.w }

// AddHost attaches a host with a public address.
func (n *Network) AddHost(name string, addr netip.Addr, cfg HostConfig) (*Host, error) {
	if err := n.claim(addr); err != nil {
		return nil, err
	}
	h := newHost(n, name, addr, nil, cfg)
	n.hosts[addr] = h
	return h, nil
}

// AddNAT attaches a NAT with a public address; put hosts behind it with
// NAT.AddHost.
func (n *Network) AddNAT(name string, public netip.Addr, cfg NATConfig) (*NAT, error) {
	if err := n.claim(public); err != nil {
		return nil, err
	}
	t := newNAT(n, name, public, cfg)
	n.nats[public] = t
	return t, nil
}

// AddHost puts a host on the NAT's private network. Private addresses need
// only be unique behind this NAT.
func (t *NAT) AddHost(name string, private netip.Addr, cfg HostConfig) (*Host, error) {
	if !private.IsValid() {
		return nil, ErrInvalidAddr
	}
	if t.lan[private] != nil || private == t.public {
		return nil, ErrAddrInUse
	}
	h := newHost(t.n, name, private, t, cfg)
	t.lan[private] = h
	return h, nil
}

func (n *Network) claim(addr netip.Addr) error {
	if !addr.IsValid() {
		return ErrInvalidAddr
	}
	if n.hosts[addr] != nil || n.nats[addr] != nil {
		return ErrAddrInUse
	}
	return nil
}

// Block starts a partition now and returns its id for Heal. Both also
// blocks the reverse direction (a two-way partition).
func (n *Network) Block(p Partition, both bool) uint64 {
	n.nextRule++
	id := n.nextRule
	n.partitions = append(n.partitions, partitionRule{id, p})
	if both {
		n.partitions = append(n.partitions, partitionRule{id, Partition{From: p.To, To: p.From}})
	}
	n.w.Note("network", "partition")
	return id
}

// Heal ends the partition with the given id.
func (n *Network) Heal(id uint64) {
	n.partitions = slices.DeleteFunc(n.partitions, func(r partitionRule) bool { return r.id == id })
	n.w.Note("network", "heal")
}

// PartitionDuring blocks p from start until end (both scheduled on the
// world's clock); a zero end never heals.
func (n *Network) PartitionDuring(p Partition, both bool, start, end time.Time) {
	n.w.Schedule(start, "network/partition", func(time.Time) {
		id := n.Block(p, both)
		if !end.IsZero() {
			n.w.Schedule(end, "network/heal", func(time.Time) { n.Heal(id) })
		}
	})
}

func (n *Network) blocked(src, dst netip.Addr) bool {
	for _, r := range n.partitions {
		if r.From.Contains(src) && r.To.Contains(dst) {
			return true
		}
	}
	return false
}

// route carries a packet from the public side of a host or NAT to the
// public side of its destination.
func (n *Network) route(p Packet) {
	src, dst := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
	if n.blocked(src, dst) {
		n.w.Drop("network", DropPartition, p.ID, p.Src, p.Dst, len(p.Payload))
		return
	}
	if h := n.hosts[dst]; h != nil {
		h.down.Send(p)
		return
	}
	if t := n.nats[dst]; t != nil {
		if h := t.inbound(&p); h != nil {
			h.down.Send(p)
		}
		return
	}
	n.w.Drop("network", DropNoRoute, p.ID, p.Src, p.Dst, len(p.Payload))
}
