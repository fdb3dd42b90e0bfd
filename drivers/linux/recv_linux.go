package linux

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/pump"
)

// receiver holds Recv's preallocated message vector and control space; the
// data buffers are the caller's.
type receiver struct {
	c     *Conn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte

	count int
	got   int
	err   error
	fn    func(fd uintptr) bool
}

func (r *receiver) init(c *Conn) {
	r.c = c
	r.hdrs = make([]mmsghdr, maxMessages)
	r.iovs = make([]unix.Iovec, maxMessages)
	r.names = make([]unix.RawSockaddrInet6, maxMessages)
	r.oob = alignedBytes(maxMessages * recvOOBSpace)
	for i := range r.hdrs {
		h := &r.hdrs[i].hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Control = &r.oob[i*recvOOBSpace]
	}
	r.fn = r.call
}

// call runs inside RawConn.Read; returning false parks the goroutine in the
// netpoller until the socket is readable.
func (r *receiver) call(fd uintptr) bool {
	for {
		r.got, r.err = recvmmsg(int(fd), r.hdrs[:r.count])
		switch r.err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		return true
	}
}

// Recv waits for datagrams and fills up to 64 of msgs. Each message's Buf
// should hold RecvBufferSize bytes; a datagram that does not fit, or whose
// control messages were cut, is dropped and counted rather than delivered
// damaged. Dropping may reorder the Buf slices within msgs (they are
// swapped, never copied).
func (c *Conn) Recv(msgs []pump.Message) (int, error) {
	r := &c.rcv
	n := min(len(msgs), maxMessages)
	if n == 0 {
		return 0, nil
	}
	for {
		if err := r.prepare(msgs[:n]); err != nil {
			return 0, err
		}
		r.count = n
		if err := c.rc.Read(r.fn); err != nil {
			return 0, err
		}
		if r.err != nil {
			return 0, fmt.Errorf("linux: recvmmsg: %w", r.err)
		}
		c.cnt.recvCalls.Add(1)
		if kept := r.deliver(msgs, r.got); kept > 0 {
			return kept, nil
		}
	}
}

// prepare points the message vector at the caller's buffers.
func (r *receiver) prepare(msgs []pump.Message) error {
	for i := range msgs {
		b := msgs[i].Buf
		if len(b) == 0 {
			return ErrShortBuffer
		}
		r.iovs[i].Base = &b[0]
		r.iovs[i].SetLen(len(b))
		h := &r.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(recvOOBSpace)
		h.Flags = 0
		r.hdrs[i].n = 0
	}
	return nil
}

// deliver fills the first got messages from what the kernel wrote, moves the
// damaged ones to the end and returns how many are good.
func (r *receiver) deliver(msgs []pump.Message, got int) int {
	cnt := &r.c.cnt
	kept := 0
	for i := range got {
		h := &r.hdrs[i].hdr
		if h.Flags&unix.MSG_TRUNC != 0 {
			cnt.truncated.Add(1)
			continue
		}
		if h.Flags&unix.MSG_CTRUNC != 0 {
			cnt.controlTruncated.Add(1)
			continue
		}
		oob := r.oob[i*recvOOBSpace:][:h.Controllen]
		meta := parseRecvOOB(oob)
		m := &msgs[i]
		m.N = int(r.hdrs[i].n)
		m.Src = getSockaddr(&r.names[i])
		m.Dst = netip.AddrPort{}
		if meta.dst.IsValid() {
			m.Dst = netip.AddrPortFrom(meta.dst, r.c.localPort)
		}
		m.ECN = meta.ecn
		m.SegmentSize = meta.seg
		datagrams := 1
		if meta.seg > 0 && meta.seg < m.N {
			datagrams = (m.N + meta.seg - 1) / meta.seg
			cnt.groMessages.Add(1)
		}
		cnt.recvDatagrams.Add(uint64(datagrams))
		if kept != i {
			msgs[kept], msgs[i] = msgs[i], msgs[kept]
		}
		kept++
	}
	cnt.recvMessages.Add(uint64(kept))
	return kept
}
