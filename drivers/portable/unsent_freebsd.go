package portable

import "golang.org/x/sys/unix"

const unsentCounter = "FIONWRITE"

// fionwrite is FreeBSD's FIONWRITE, _IOR('f', 119, int) in sys/filio.h;
// golang.org/x/sys/unix does not define it.
const fionwrite = 0x40046677

// readUnsent is ioctl FIONWRITE: the bytes in the socket's send buffer.
func readUnsent(fd uintptr) (int, error) { return unix.IoctlGetInt(int(fd), fionwrite) }
