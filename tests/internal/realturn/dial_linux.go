package realturn

import (
	"context"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialIn returns a dial function (drivers.Config.Dial) that opens its
// connections inside network namespace ns, the way ListenUDPIn opens
// sockets: only the dialling thread enters ns, and it is discarded after.
func DialIn(ns string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open("/run/netns/" + ns)
			if err != nil {
				done <- result{err: err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- result{err: err}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, address)
			done <- result{c, err}
		}()
		r := <-done
		return r.c, r.err
	}
}
