package portable

import "golang.org/x/sys/unix"

const unsentCounter = "SO_NWRITE"

// readUnsent is getsockopt SO_NWRITE: the bytes in the socket's send
// buffer not yet sent.
func readUnsent(fd uintptr) (int, error) {
	return unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NWRITE)
}
