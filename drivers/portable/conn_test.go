package portable

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { uc.Close() })
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	return uc
}

func addrOf(uc *net.UDPConn) netip.AddrPort { return uc.LocalAddr().(*net.UDPAddr).AddrPort() }

func payload(i, size int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, size) }

func TestEveryBatchIsOneDatagram(t *testing.T) {
	if got := New(listen(t, "udp4", "127.0.0.1:0")).Caps(); got.MaxSegments != 1 {
		t.Fatalf("Caps = %+v, want one segment", got)
	}
}

func TestBatchesArriveInOrderAndIntactOnLoopback(t *testing.T) {
	for _, lb := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(lb.network, func(t *testing.T) {
			tx := New(listen(t, lb.network, lb.addr))
			rxSock := listen(t, lb.network, lb.addr)
			rx := New(rxSock)
			q := gso.New(gso.Config{Caps: tx.Caps()})
			for i := range 10 {
				if err := q.Enqueue(netip.AddrPort{}, addrOf(rxSock), payload(i, 100+i), gso.Data, gso.NotECT); err != nil {
					t.Fatal(err)
				}
			}

			n, err := tx.Send(q.Peek(make([]*gso.Batch, 0, 16)))

			if n != 10 || err != nil {
				t.Fatalf("Send = %d, %v; want 10, nil", n, err)
			}
			msgs := []pump.Message{{Buf: make([]byte, RecvBufferSize)}}
			for i := range 10 {
				if k, err := rx.Recv(msgs); k != 1 || err != nil {
					t.Fatalf("Recv = %d, %v", k, err)
				}
				m := msgs[0]
				if !bytes.Equal(m.Buf[:m.N], payload(i, 100+i)) {
					t.Fatalf("datagram %d: got %d bytes of %d", i, m.N, m.Buf[0])
				}
				if m.Src != addrOf(tx.uc) || m.Dst != addrOf(rxSock) {
					t.Fatalf("datagram %d: Src %v Dst %v, want %v and %v", i, m.Src, m.Dst, addrOf(tx.uc), addrOf(rxSock))
				}
			}
		})
	}
}

func TestADestinationOfTheOtherFamilyIsSkippedAndTheNextBatchGoes(t *testing.T) {
	tx := New(listen(t, "udp4", "127.0.0.1:0"))
	rx := listen(t, "udp4", "127.0.0.1:0")
	q := gso.New(gso.Config{Caps: tx.Caps()})
	q.Enqueue(netip.AddrPort{}, netip.MustParseAddrPort("[2001:db8::1]:9"), payload(0, 50), gso.Data, gso.NotECT)
	q.Enqueue(netip.AddrPort{}, addrOf(rx), payload(1, 50), gso.Data, gso.NotECT)

	n, err := tx.Send(q.Peek(make([]*gso.Batch, 0, 4)))

	if n != 2 || err != nil {
		t.Fatalf("Send = %d, %v; want 2 (one skipped), nil", n, err)
	}
	buf := make([]byte, 100)
	k, _, err := rx.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:k], payload(1, 50)) {
		t.Fatalf("read %v %v", buf[:k], err)
	}
	if st := tx.Stats(); st.SkippedDatagrams != 1 || st.Unreachable != 2 {
		t.Fatalf("want one datagram skipped after a retry, got %+v", st)
	}
}
