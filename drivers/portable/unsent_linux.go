package portable

import "golang.org/x/sys/unix"

const unsentCounter = "SIOCOUTQ"

// readUnsent is ioctl SIOCOUTQ: the bytes the socket's send buffer holds,
// charged with the kernel's per-datagram overhead, which includes
// datagrams waiting in a qdisc or the device's queue.
func readUnsent(fd uintptr) (int, error) { return unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }
