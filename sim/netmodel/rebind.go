package netmodel

import (
	"net/netip"
	"slices"
)

// This file holds the network changes a connection must survive: a NAT
// that forgets its bindings (it rebooted, its conntrack table was flushed,
// a carrier-grade NAT rebalanced), an uplink that fails over to a second
// ISP (a new public address as well), and a host that moves to another
// network (a laptop from Wi-Fi to LTE).

// Rebind forgets every binding at once: the next packet of each flow gets
// a new external port, drawn like any other, and packets sent to an old
// one are dropped (no mapping). A valid public makes it the NAT's new
// external address too; it must be free.
func (t *NAT) Rebind(public netip.Addr) error {
	if public.IsValid() && public != t.public {
		if err := t.n.claim(public); err != nil {
			return err
		}
		delete(t.n.nats, t.public)
		t.public = public
		t.n.nats[public] = t
	}
	for _, b := range t.bindings {
		t.w.NoteFlow(t.name, "nat_flush", b.key.internal, b.external)
	}
	t.stats.Flushed += uint64(len(t.bindings))
	clear(t.byKey)
	clear(t.byPort)
	t.bindings = nil
	return nil
}

// Move takes the host off its network and attaches it to nat's private
// network at addr (or, with a nil nat, to the core at the public address
// addr). Its sockets keep their ports and take the new address; what is in
// flight toward the old address is lost. The program on the host learns
// of it as from the OS, by its own means (sim/host does not tell it).
func (h *Host) Move(nat *NAT, addr netip.Addr) error {
	if !addr.IsValid() {
		return ErrInvalidAddr
	}
	if nat != nil {
		if nat.lan[addr] != nil || addr == nat.public {
			return ErrAddrInUse
		}
	} else if err := h.n.claim(addr); err != nil {
		return err
	}
	if h.nat != nil {
		delete(h.nat.lan, h.addr)
	} else {
		delete(h.n.hosts, h.addr)
	}
	h.nat, h.addr = nat, addr
	if nat != nil {
		nat.lan[addr] = h
	} else {
		h.n.hosts[addr] = h
	}
	ports := make([]uint16, 0, len(h.sockets))
	// peerlink:order-independent: the ports are sorted before use.
	for p := range h.sockets {
		ports = append(ports, p)
	}
	slices.Sort(ports) // the same order every run
	for _, p := range ports {
		s := h.sockets[p]
		s.local = netip.AddrPortFrom(addr, p)
	}
	if h.wildcard != nil {
		h.wildcard.local = netip.AddrPortFrom(addr, 0)
	}
	h.w.Note(h.name, "moved")
	return nil
}
