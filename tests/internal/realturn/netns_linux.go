package realturn

import (
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ListenUDPIn opens a UDP socket on addr inside network namespace ns (""
// for the test's own). A socket stays in the namespace it was created in,
// whichever thread uses it later, so only the creating thread enters ns;
// it stays locked when its goroutine ends, which makes the runtime discard
// it rather than reuse a thread in the wrong namespace.
func ListenUDPIn(ns string, addr netip.AddrPort) (*net.UDPConn, error) {
	// "udp4" for an IPv4 address, as before; "udp" takes either family
	// (an IPv6 address, or [::] for a dual-stack socket).
	network := "udp"
	if addr.Addr().Is4() {
		network = "udp4"
	}
	if ns == "" {
		return net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	}
	type result struct {
		uc  *net.UDPConn
		err error
	}
	done := make(chan result)
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
		uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
		done <- result{uc, err}
	}()
	r := <-done
	return r.uc, r.err
}
