//go:build unix

package portable

import "golang.org/x/sys/unix"

// readSendBuffer is getsockopt SO_SNDBUF.
func readSendBuffer(fd uintptr) (int, error) {
	return unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
}
