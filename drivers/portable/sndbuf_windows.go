package portable

import "golang.org/x/sys/windows"

// readSendBuffer is getsockopt SO_SNDBUF.
func readSendBuffer(fd uintptr) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_SNDBUF)
}
