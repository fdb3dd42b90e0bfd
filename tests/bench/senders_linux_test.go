package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	wgconn "golang.zx2c4.com/wireguard/conn"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// sent is what one sender managed in its time slot.
type sent struct {
	datagrams uint64
	calls     uint64 // send system calls; 0 when the sender cannot tell
}

// sender sends size-byte datagrams to dst for about dur.
type sender func(b *testing.B, dst netip.AddrPort, size int, dur time.Duration) sent

func datagram(size int) []byte { return bytes.Repeat([]byte{0x5a}, size) }

// checkEvery is how many datagrams a sender sends between clock reads.
const checkEvery = 256

// sendNaive is what an application without batching does: one
// WriteToUDPAddrPort per datagram.
func sendNaive(b *testing.B, dst netip.AddrPort, size int, dur time.Duration) sent {
	uc := listenLoopback(b)
	defer uc.Close()
	p := datagram(size)
	var n uint64
	for start := time.Now(); time.Since(start) < dur; {
		for range checkEvery {
			if _, err := uc.WriteToUDPAddrPort(p, dst); err != nil {
				b.Fatal(err)
			}
		}
		n += checkEvery
	}
	return sent{n, n}
}

// segmentsFor is how many datagrams of size bytes one UDP_SEGMENT send may
// carry: the kernel's 64, or fewer when they would exceed the IPv4 limit.
func segmentsFor(size int) int { return min(64, gso.MaxBytesIPv4/size) }

// sendLimit is the kernel's limit: the same super-datagram sent again and
// again with sendmsg and UDP_SEGMENT, no queue, no copy, no bookkeeping.
func sendLimit(b *testing.B, dst netip.AddrPort, size int, dur time.Duration) sent {
	uc := listenLoopback(b)
	defer uc.Close()
	segs := segmentsFor(size)
	payload := bytes.Repeat(datagram(size), segs)
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(size))
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], dst.Port())
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: unix.SizeofSockaddrInet4, Iov: &iov, Control: &oob[0]}
	msg.SetIovlen(1)
	msg.SetControllen(len(oob))

	rc, _ := uc.SyscallConn()
	var calls uint64
	var sendErr error
	write := func(fd uintptr) bool {
		for range 64 {
			_, _, errno := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
			if errno == unix.EAGAIN {
				return false
			}
			if errno != 0 {
				sendErr = errno
				return true
			}
			calls++
		}
		return true
	}
	for start := time.Now(); time.Since(start) < dur && sendErr == nil; {
		if err := rc.Write(write); err != nil {
			b.Fatal(err)
		}
	}
	if sendErr != nil {
		b.Fatal(sendErr)
	}
	return sent{calls * uint64(segs), calls}
}

// sendPeerlink is peerlink's send path: every datagram is enqueued (one
// copy), the queue builds the batches and the driver flushes them.
func sendPeerlink(b *testing.B, dst netip.AddrPort, size int, dur time.Duration) sent {
	c, err := linux.New(listenLoopback(b), linux.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q := gso.New(gso.Config{Caps: c.Caps()})
	p := datagram(size)
	batches := make([]*gso.Batch, 0, 64)
	for start := time.Now(); time.Since(start) < dur; {
		for range 2 * checkEvery {
			if err := q.Enqueue(netip.AddrPort{}, dst, p, gso.Data, gso.NotECT); err != nil {
				b.Fatal(err)
			}
		}
		for !q.Empty() {
			batches = q.Peek(batches[:0])
			n, err := c.Send(batches)
			if aerr := q.Advance(n); aerr != nil {
				b.Fatal(aerr)
			}
			if errors.Is(err, pump.ErrWouldBlock) {
				err = c.WaitWritable()
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	st := c.Stats()
	return sent{st.SentDatagrams, st.SendCalls}
}

// sendWireguard is wireguard-go's StdNetBind, which coalesces equal-length
// buffers into UDP_SEGMENT messages itself. Its buffers have the capacity
// wireguard-go's device gives them, which coalescing appends into.
func sendWireguard(b *testing.B, dst netip.AddrPort, size int, dur time.Duration) sent {
	bind := wgconn.NewStdNetBind()
	if _, _, err := bind.Open(0); err != nil {
		b.Fatal(err)
	}
	defer bind.Close()
	ep, err := bind.ParseEndpoint(dst.String())
	if err != nil {
		b.Fatal(err)
	}
	bufs := make([][]byte, bind.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, size, 1<<16)
		copy(bufs[i], datagram(size))
	}
	var n, calls uint64
	for start := time.Now(); time.Since(start) < dur; {
		if err := bind.Send(bufs, ep); err != nil {
			b.Fatal(err)
		}
		n += uint64(len(bufs))
		calls++
	}
	// Each Send is one sendmmsg unless the kernel takes only part of it, so
	// this is a lower bound.
	return sent{n, calls}
}
