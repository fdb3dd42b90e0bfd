package linux

// Config tunes a Conn. The zero value enables every offload the kernel
// supports. The kernel queue budget lives in the pump, which reads
// Conn.UnsentBytes.
type Config struct {
	// DisableGSO sends one datagram per message even when the kernel could
	// segment (for comparisons, or to work around a misbehaving NIC).
	DisableGSO bool
	// DisableGRO leaves UDP_GRO off, so every received buffer holds one
	// datagram.
	DisableGRO bool
	// OnGSODisabled, when set, is called once, from Send, when the kernel
	// rejected segmentation and the Conn switched to one datagram per
	// message. It is meant for a single log line.
	OnGSODisabled func(err error)
}

// Limits of one system call's vector.
const (
	// maxMessages bounds the messages of one sendmmsg or recvmmsg call, and
	// so the preallocated headers and control space.
	maxMessages = 64
	// maxSegments is the most segments one message carries: the kernel's
	// UDP_MAX_SEGMENTS before 6.10 (128 since).
	maxSegments = 64
	// RecvBufferSize is the receive buffer each Message should provide: the
	// largest datagram, or GRO super-datagram, the kernel hands over.
	RecvBufferSize = 1 << 16
)
