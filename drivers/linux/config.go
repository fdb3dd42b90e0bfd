package linux

import "github.com/peerlink/peerlink/state/pump"

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
	// RecvBufferBytes and SendBufferBytes are the least sizes of the
	// socket's kernel buffers (SO_RCVBUF, SO_SNDBUF): New raises a smaller
	// buffer and keeps a larger one set on the socket before; 0 means the
	// defaults below, negative leaves the socket's buffers as they are.
	// Conn.Buffers says what the kernel granted.
	RecvBufferBytes int
	SendBufferBytes int
}

// Socket buffer defaults, and why.
const (
	// DefaultRecvBufferBytes: a bulk transfer arrives in bursts of GSO
	// batches, and the kernel's usual 208 KiB receive buffer lost 2-12% of
	// one whenever the receiving goroutine was descheduled for a few
	// milliseconds. 4 MiB holds about 3,000 full-size datagrams, 30 ms at
	// 1 Gbit/s.
	DefaultRecvBufferBytes = 4 << 20
	// DefaultSendBufferBytes: enough for several 64-segment GSO batches in
	// flight, so a fast link is never short of queued work. Probe delay
	// does not grow with it: the pump's kernel budget, not the buffer,
	// bounds the Data the kernel holds unsent.
	DefaultSendBufferBytes = 1 << 20
)

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
	RecvBufferSize = pump.DefaultRecvBufferSize
)
