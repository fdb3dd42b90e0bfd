package linux

import "golang.org/x/sys/unix"

// outq is the bound callback that reads the socket's unsent bytes.
type outq struct {
	n   int
	err error
	fn  func(fd uintptr)
}

func (o *outq) init(*Conn) {
	o.fn = func(fd uintptr) { o.n, o.err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }
}

// UnsentBytes reports what the socket's send buffer still holds
// (ioctl SIOCOUTQ): datagrams handed to the kernel that have not left the
// host yet, counted with the kernel's per-buffer overhead. A Control
// datagram sent now waits behind all of it.
func (c *Conn) UnsentBytes() (int, error) {
	if err := c.rc.Control(c.oq.fn); err != nil {
		return 0, err
	}
	return c.oq.n, c.oq.err
}
