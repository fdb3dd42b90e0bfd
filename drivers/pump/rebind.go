package pump

// SetConn makes c the Conn the pump flushes into, from the next Flush on:
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
