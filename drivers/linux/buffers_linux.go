package linux

import "golang.org/x/sys/unix"

// Buffers says what the socket's kernel buffers were asked to be and what
// the kernel granted. Linux doubles a requested size for its bookkeeping
// and, without CAP_NET_ADMIN, caps the request at net.core.rmem_max
// (receive) or net.core.wmem_max (send), often 208 KiB: a Granted far below
// twice the Requested means the cap applied; raise the sysctl, or run with
// the capability.
type Buffers struct {
	RecvRequested, RecvGranted int
	SendRequested, SendGranted int
}

// Buffers returns the socket buffer sizes set when the Conn was made.
func (c *Conn) Buffers() Buffers { return c.buf }

// sizeBuffers raises the buffers to the configured sizes: first with the FORCE options,
// which pass the sysctl caps for a privileged process, then with the plain
// ones, which the kernel caps. A failure leaves the kernel's own size,
// which still works, so it is reported only through Buffers.
func sizeBuffers(fd int, cfg Config) Buffers {
	var b Buffers
	b.RecvRequested = sizeOr(cfg.RecvBufferBytes, DefaultRecvBufferBytes)
	b.SendRequested = sizeOr(cfg.SendBufferBytes, DefaultSendBufferBytes)
	b.RecvGranted = raiseBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, b.RecvRequested)
	b.SendGranted = raiseBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, b.SendRequested)
	return b
}

func sizeOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// raiseBuffer raises the buffer to n unless it already holds that much
// (the kernel reports twice what was set), and returns what it holds.
func raiseBuffer(fd, force, plain, n int) int {
	have, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, plain)
	if n <= 0 || have >= 2*n {
		return have
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, n) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, n)
	}
	have, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, plain)
	return have
}
