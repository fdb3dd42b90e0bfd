package bench

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/pump"
)

// sink receives on loopback through the Linux driver and counts datagrams,
// so that every sender is measured against the same receiver.
type sink struct {
	conn      *linux.Conn
	addr      netip.AddrPort
	datagrams atomic.Uint64
	done      chan struct{}
}

func newSink(b *testing.B, gro bool) *sink {
	uc := listenLoopback(b)
	deepReceiveBuffer(uc)
	c, err := linux.New(uc, linux.Config{DisableGRO: !gro})
	if err != nil {
		b.Fatal(err)
	}
	if gro && !c.GRO() {
		b.Skip("kernel without UDP_GRO")
	}
	s := &sink{conn: c, addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(), done: make(chan struct{})}
	go s.run(b)
	return s
}

func (s *sink) run(b *testing.B) {
	defer close(s.done)
	msgs := make([]pump.Message, 32)
	for i := range msgs {
		msgs[i].Buf = make([]byte, linux.RecvBufferSize)
	}
	for {
		n, err := s.conn.Recv(msgs)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			b.Error(err)
			return
		}
		total := 0
		for _, m := range msgs[:n] {
			if m.SegmentSize > 0 && m.SegmentSize < m.N {
				total += (m.N + m.SegmentSize - 1) / m.SegmentSize
			} else {
				total++
			}
		}
		s.datagrams.Add(uint64(total))
	}
}

// settle waits until the sink has received nothing for 50 ms (at most
// 2 s) and returns its count.
func (s *sink) settle() uint64 {
	last, lastAt := s.datagrams.Load(), time.Now()
	for start := lastAt; time.Since(lastAt) < 50*time.Millisecond && time.Since(start) < 2*time.Second; {
		time.Sleep(time.Millisecond)
		if n := s.datagrams.Load(); n != last {
			last, lastAt = n, time.Now()
		}
	}
	return last
}

func (s *sink) close() {
	s.conn.Close()
	<-s.done
}

// deepReceiveBuffer absorbs a sender's bursts while the receiving
// goroutine waits for the CPU; root may exceed rmem_max.
func deepReceiveBuffer(uc *net.UDPConn) {
	rc, _ := uc.SyscallConn()
	rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20) != nil {
			uc.SetReadBuffer(64 << 20)
		}
	})
}

func listenLoopback(b *testing.B) *net.UDPConn {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	return uc
}
