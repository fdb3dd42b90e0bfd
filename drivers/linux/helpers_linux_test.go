package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// testTimeout bounds every wait of these tests; loopback delivers in
// microseconds, so reaching it means a datagram was lost.
const testTimeout = 5 * time.Second

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { uc.Close() })
	forceRecvBuffer(t, uc, 8<<20)
	return uc
}

// forceRecvBuffer raises the receive buffer past rmem_max when running as
// root, so that a burst of test datagrams is not dropped by the receiver.
func forceRecvBuffer(t *testing.T, uc *net.UDPConn, n int) {
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
			_ = uc.SetReadBuffer(n)
		}
	})
}

func newConn(t *testing.T, network, addr string, cfg Config) *Conn {
	t.Helper()
	c, err := New(listen(t, network, addr), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(uc interface{ LocalAddr() net.Addr }) netip.AddrPort {
	return uc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// payload is datagram i of a test: its index in the first four bytes, then
// bytes derived from it, so any loss, duplicate, reorder or corruption shows.
func payload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*7 + j)
	}
	if size >= 4 {
		binary.BigEndian.PutUint32(b, uint32(i))
	}
	return b
}

type datagram struct {
	src, dst netip.AddrPort
	size     int
	ecn      gso.ECN
}

// enqueue puts n datagrams of the given size into q, numbered from first.
func enqueue(t *testing.T, q *gso.Queue, d datagram, first, n int, class gso.Class) {
	t.Helper()
	for i := first; i < first+n; i++ {
		if err := q.Enqueue(d.src, d.dst, payload(i, d.size), class, d.ecn); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
}

// flush drains q into c the way the pump does: peek, send, advance by what
// was taken, wait while the socket is full.
func flush(t *testing.T, q *gso.Queue, c *Conn) {
	t.Helper()
	batches := make([]*gso.Batch, 0, 16)
	deadline := time.Now().Add(testTimeout)
	for !q.Empty() {
		if time.Now().After(deadline) {
			t.Fatal("queue did not drain")
		}
		batches = q.Peek(batches[:0])
		n, err := c.Send(batches)
		if aerr := q.Advance(n); aerr != nil {
			t.Fatalf("advance %d: %v", n, aerr)
		}
		switch {
		case errors.Is(err, pump.ErrWouldBlock):
			if err := c.WaitWritable(); err != nil {
				t.Fatal(err)
			}
		case err != nil:
			t.Fatalf("send: %v", err)
		}
	}
}

// readPlain reads n datagrams from an ordinary socket.
func readPlain(t *testing.T, uc *net.UDPConn, n int) [][]byte {
	t.Helper()
	uc.SetReadDeadline(time.Now().Add(testTimeout))
	var out [][]byte
	buf := make([]byte, RecvBufferSize)
	for len(out) < n {
		k, _, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		out = append(out, bytes.Clone(buf[:k]))
	}
	return out
}

// received is one datagram as a Conn delivered it.
type received struct {
	b        []byte
	src, dst netip.AddrPort
	ecn      gso.ECN
	segSize  int
}

// recvConn reads n datagrams through c.Recv, splitting coalesced buffers.
func recvConn(t *testing.T, c *Conn, n int) []received {
	t.Helper()
	c.uc.SetReadDeadline(time.Now().Add(testTimeout))
	msgs := make([]pump.Message, 8)
	for i := range msgs {
		msgs[i].Buf = make([]byte, RecvBufferSize)
	}
	var out []received
	for len(out) < n {
		k, err := c.Recv(msgs)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		for _, m := range msgs[:k] {
			m.Datagrams(func(b []byte) {
				out = append(out, received{bytes.Clone(b), m.Src, m.Dst, m.ECN, m.SegmentSize})
			})
		}
	}
	return out
}

// checkSequence fails unless got holds datagrams first..first+len-1 of the
// given size, in order and intact.
func checkSequence(t *testing.T, got [][]byte, first, size int) {
	t.Helper()
	for i, b := range got {
		if want := payload(first+i, size); !bytes.Equal(b, want) {
			t.Fatalf("datagram %d: got %d bytes starting %x, want %d bytes starting %x",
				i, len(b), b[:min(8, len(b))], len(want), want[:min(8, len(want))])
		}
	}
}

func deadline() time.Time { return time.Now().Add(testTimeout) }
