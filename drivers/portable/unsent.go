//go:build linux || darwin || freebsd

package portable

import "github.com/peerlink/peerlink/state/pump"

var _ pump.UnsentCounter = (*Conn)(nil)

// unsent is the bound callback that reads the socket's unsent bytes, made
// once so UnsentBytes allocates nothing.
type unsent struct {
	n   int
	err error
	fn  func(fd uintptr)
}

func (u *unsent) init() { u.fn = func(fd uintptr) { u.n, u.err = readUnsent(fd) } }

// UnsentBytes reports what the kernel holds for the socket and has not put
// on the wire (see Bound.Counter for the call), so the pump's kernel budget
// applies. A Control datagram sent now waits behind all of it.
func (c *Conn) UnsentBytes() (int, error) {
	if c.rc == nil {
		return 0, errNoRawConn
	}
	if err := c.rc.Control(c.oq.fn); err != nil {
		return 0, err
	}
	return c.oq.n, c.oq.err
}
