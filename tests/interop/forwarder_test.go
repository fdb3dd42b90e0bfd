package interop

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// forwarder relays UDP between our driver and a peer through two loopback
// sockets, so that a test can cut the path. Each side sees the other at the
// forwarder socket facing it: ours sends to toPeer's far side (facing us),
// and the peer sends to the socket facing it.
type forwarder struct {
	facingUs, facingPeer *net.UDPConn
	us, peer             atomic.Pointer[netip.AddrPort]
	cut                  atomic.Bool
	wg                   sync.WaitGroup
}

func newForwarder(t *testing.T) *forwarder {
	t.Helper()
	f := &forwarder{}
	var err error
	for _, s := range []**net.UDPConn{&f.facingUs, &f.facingPeer} {
		if *s, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	f.wg.Add(2)
	go f.relay(f.facingUs, f.facingPeer, &f.us, &f.peer)
	go f.relay(f.facingPeer, f.facingUs, &f.peer, &f.us)
	t.Cleanup(func() {
		f.facingUs.Close()
		f.facingPeer.Close()
		f.wg.Wait()
	})
	return f
}

// usAddr is where our driver sends to reach the peer; peerAddr is where the
// peer sends to reach us.
func (f *forwarder) usAddr() netip.AddrPort { return f.facingUs.LocalAddr().(*net.UDPAddr).AddrPort() }
func (f *forwarder) peerAddr() netip.AddrPort {
	return f.facingPeer.LocalAddr().(*net.UDPAddr).AddrPort()
}

// setPeer tells the forwarder where the peer listens; our address it learns
// from the first datagram we send (and the peer's too, should it change).
func (f *forwarder) setPeer(a netip.AddrPort) { f.peer.Store(&a) }
func (f *forwarder) setUs(a netip.AddrPort)   { f.us.Store(&a) }

func (f *forwarder) relay(from, to *net.UDPConn, fromAddr, toAddr *atomic.Pointer[netip.AddrPort]) {
	defer f.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, src, err := from.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		fromAddr.Store(&src)
		dst := toAddr.Load()
		if f.cut.Load() || dst == nil {
			continue
		}
		to.WriteToUDPAddrPort(buf[:n], *dst)
	}
}
