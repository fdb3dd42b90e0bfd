package pump

import "time"

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
	// Datagrams of a batch a send failed on (other than would-block),
	// dropped so the queue moves on; the error is returned to the caller.
	ControlSendDropped uint64
	DataSendDropped    uint64
	// DataDelayRefused counts the refusals (within DataRefused) of the
	// queue's delay bound; DataHeadDropped the queued Data datagrams its
	// DropHead overflow dropped.
	DataDelayRefused, DataHeadDropped uint64
	// BudgetRecheckWait is the last wait of held Data before the kernel
	// queue was measured again.
	BudgetRecheckWait time.Duration
	// KernelDrainRate is the socket's drain rate as last estimated, in
	// bytes per second (0: not measured); KernelDataLimit the Data the
	// budget lets the kernel hold at that rate.
	KernelDrainRate uint64
	KernelDataLimit int
	// StreamTransmits counts transmits the outbox took for the driver's
	// streams; StreamDataRefused the Data refused there for
	// back-pressure (within DataRefused); StreamControlDropped the Control
	// dropped because the driver took nothing for too long.
	StreamTransmits, StreamDataRefused, StreamControlDropped uint64
	// StreamDataDropped counts the Data dropped from the stream outbox
	// because its relay failed (node.RelayFailed): the connections on it
	// moved or failed.
	StreamDataDropped uint64
}

// SocketStats are an OS driver's counters of its socket, in the shape every
// driver shares, so that an application reads them without knowing the OS
// (node.ConnStats, by contrast, counts one peer connection).
type SocketStats struct {
	// SendCalls counts send system calls; SentDatagrams the datagrams
	// (segments) the kernel took.
	SendCalls, SentDatagrams uint64
	// OffloadMessages counts sends that carried more than one segment
	// (Linux UDP_SEGMENT, Windows UDP_SEND_MSG_SIZE); OffloadFallbacks the
	// segmented sends the kernel rejected and that went out one datagram
	// at a time instead.
	OffloadMessages, OffloadFallbacks uint64
	// RecvCalls counts receive system calls that returned data;
	// RecvDatagrams the datagrams delivered, coalesced ones counted each;
	// CoalescedMessages the buffers that held several (GRO/URO).
	RecvCalls, RecvDatagrams, CoalescedMessages uint64
	// Errors and losses by kind.
	Truncated, TooLarge, Unreachable, SkippedDatagrams, OtherErrors uint64
}

// SocketStatser is implemented by Conns that count what they do; the
// drivers' Stats include it.
type SocketStatser interface {
	SocketStats() SocketStats
}
