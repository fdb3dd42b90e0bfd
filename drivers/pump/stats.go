package pump

// Stats counts what the pump did.
type Stats struct {
	DatagramsReceived uint64 // datagrams fed into the Node, coalesced ones split
	Sends             uint64 // Conn.Send calls
	DatagramsSent     uint64 // datagrams the kernel took
	WouldBlock        uint64 // sends that found the socket full
	SendErrors        uint64 // sends that failed otherwise
	DataHeld          uint64 // flushes that held Data back for the kernel budget
	DataRefused       uint64 // Data transmits the queue refused (back-pressure)
	DataDropped       uint64 // Data transmits no socket could send (too large, bad address)
	ControlDropped    uint64 // Control transmits the queue refused: a bug if ever non-zero
}
