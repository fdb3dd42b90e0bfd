package pump

import "net/netip"

// SetConn makes c the Conn the pump flushes into, from the next flush on:
// the driver rebound its socket (drivers.Driver.Rebind). What the queue
// holds stays and leaves through c; its batches were built within the old
// Conn's Caps, so c must accept those (the same OS driver on the same
// machine does). A datagram queued from an address c does not have fails
// as any send error does; the Node's retransmissions and probes, from the
// addresses it has now, replace what matters.
func (p *Pump) SetConn(c Conn) {
	p.conn = c
	p.blocked = false
}

// DropFrom removes everything queued to leave from src, an address the
// program no longer has (the Node was told with RemoveLocalAddress or
// MoveLocalAddress): it could not be sent, and each batch would fail a
// send of its own at the head of the queue. The datagrams count in
// ControlSendDropped and DataSendDropped. Call it after the Node's command,
// between flushes.
func (p *Pump) DropFrom(src netip.AddrPort) {
	p.collect()
	c, d := p.queue.DropSource(src)
	p.stats.ControlSendDropped += uint64(c)
	p.stats.DataSendDropped += uint64(d)
}
