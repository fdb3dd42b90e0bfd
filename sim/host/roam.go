package host

import (
	"net/netip"

	"github.com/peerlink/peerlink/state/gso"
)

// DropFrom is what a driver does once the program moved or removed a
// local address: what is queued to leave from src is dropped
// (pump.Pump.DropFrom). The dropped Control datagrams are taken off the
// oldest of those the delay accounting waits for: they were all queued
// before the change, and what the Node queued since leaves from its new
// address. Call it inside Do, after the Node's command.
func (h *Host) DropFrom(src netip.AddrPort) {
	before := h.pump.Queue().Stats().Classes[gso.Control].Dropped
	h.pump.DropFrom(src)
	h.conn.noteDropped(h.pump.Queue().Stats().Classes[gso.Control].Dropped - before)
}

// noteDropped forgets the n oldest Control datagrams waiting to be taken;
// those the next step has yet to report are owed.
func (c *tapConn) noteDropped(n uint64) {
	defer func() { c.dropOwed += n }()
	for n > 0 && len(c.arrivals) > 0 {
		a := &c.arrivals[0]
		k := min(n, a.n)
		a.n -= k
		n -= k
		if a.n == 0 {
			c.arrivals = c.arrivals[1:]
		}
	}
}
