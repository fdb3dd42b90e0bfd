package linux

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr from <sys/socket.h>: one message of a sendmmsg or
// recvmmsg vector and the byte count the kernel fills in. x/sys/unix has no
// such type. Go pads the struct to Msghdr's alignment exactly as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendmmsgFunc is the send system call. Tests replace it to make the kernel
// appear to reject segmentation, refuse a destination or stop half way.
var sendmmsgFunc = sendmmsg

// sendmmsg sends msgs and returns how many the kernel took. An error means
// msgs[0] was not taken; an error on a later message is reported by the
// kernel as a short count and comes back on the next call.
func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// recvmmsg fills msgs without waiting (the socket is non-blocking) and
// returns how many it filled.
func recvmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
