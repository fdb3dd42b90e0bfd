package linux

import "golang.org/x/sys/unix"

// WaitWritable parks the calling goroutine in the Go netpoller until the
// socket's send buffer has room again. Call it after Send returned
// pump.ErrWouldBlock, then Send the rest. Close wakes it with an error.
func (c *Conn) WaitWritable() error {
	return c.rc.Write(c.snd.waitFn)
}

// writable runs inside RawConn.Write: reporting false parks until the
// netpoller sees the socket become writable. The zero-timeout poll avoids
// parking when room appeared before the goroutine got here.
func (s *sender) writable(fd uintptr) bool {
	s.poll[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
	n, err := unix.Poll(s.poll[:], 0)
	// On error, let the next Send report what is wrong.
	return err != nil || n > 0
}
