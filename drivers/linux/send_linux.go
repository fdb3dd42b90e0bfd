package linux

import (
	"fmt"
	"io"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// sender holds Send's preallocated message vector. Each message carries
// one or more consecutive segments of one batch; the per-message cursor
// (batch, first, segs) maps what the kernel took back to datagrams.
type sender struct {
	c     *Conn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte

	batch, first, segs [maxMessages]int

	// Arguments and results of the bound callbacks; fields rather than
	// closure captures so that no call allocates.
	count  int
	sent   int
	err    error
	sendFn func(fd uintptr) bool
	waitFn func(fd uintptr) bool
	poll   [1]unix.PollFd
}

func (s *sender) init(c *Conn) {
	s.c = c
	s.hdrs = make([]mmsghdr, maxMessages)
	s.iovs = make([]unix.Iovec, maxMessages)
	s.names = make([]unix.RawSockaddrInet6, maxMessages)
	s.oob = alignedBytes(maxMessages * sendOOBSpace)
	for i := range s.hdrs {
		h := &s.hdrs[i].hdr
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
	}
	s.sendFn = s.call
	s.waitFn = s.writable
}

// call runs inside RawConn.Write. It always reports done: waiting for
// writability is the caller's decision (WaitWritable), not Send's.
func (s *sender) call(fd uintptr) bool {
	for {
		s.sent, s.err = sendmmsgFunc(int(fd), s.hdrs[:s.count])
		if s.err != unix.EINTR {
			return true
		}
	}
}

// Send hands the batches to the kernel in order; see the package
// documentation for what each kernel error does to the returned count.
func (c *Conn) Send(batches []*gso.Batch) (int, error) {
	s := &c.snd
	taken := 0
	bi, si := 0, 0 // cursor: batch index, and segments of it already handled
	retried := false
	probe := false // resend the cursor's segments singly
	var probeErr unix.Errno
	for {
		for bi < len(batches) && si >= batches[bi].Segments() {
			bi, si = bi+1, 0
		}
		n, endBi, endSi := s.fill(batches, bi, si, probe)
		if n == 0 {
			return taken, nil
		}
		sent, err := s.send(n)
		if sent > 0 {
			taken += s.account(sent)
			if probe {
				c.segmentedFailed(probeErr, err)
			}
			probe, retried = false, false
			if sent == n {
				bi, si = endBi, endSi
			} else {
				// A short count: the kernel reports why on the next call.
				bi, si = s.batch[sent], s.first[sent]
			}
			continue
		}
		b := batches[s.batch[0]]
		errno, _ := err.(unix.Errno)
		switch {
		case err == nil:
			return taken, io.ErrNoProgress
		case errno == unix.EAGAIN:
			c.cnt.wouldBlock.Add(1)
			return taken, pump.ErrWouldBlock
		case s.segs[0] > 1 && (errno == unix.EIO || errno == unix.EINVAL || errno == unix.EMSGSIZE):
			// The segmented message failed; its datagrams one by one may
			// not (a device that cannot segment, or, before Linux 6.11's
			// change, a segment above the MTU reported as EINVAL).
			probe, probeErr = true, errno
		case errno == unix.EMSGSIZE:
			c.cnt.tooLarge.Add(1)
			return taken, fmt.Errorf("%w: %d-byte datagrams to %v: %w",
				ErrMessageTooLarge, b.SegmentSize(), b.Dst(), err)
		case unreachable(errno):
			c.cnt.unreachable.Add(1)
			if !retried {
				retried = true
				continue
			}
			left := b.Segments() - si
			taken += left
			c.cnt.skipped.Add(uint64(left))
			bi, si, retried = bi+1, 0, false
		default:
			c.cnt.other.Add(1)
			return taken, fmt.Errorf("linux: sendmmsg to %v: %w", b.Dst(), err)
		}
	}
}

// unreachable reports errors about the destination rather than the socket
// or the batch: the rest of the batch is skipped and the queue moves on.
// EDESTADDRREQ is what a destination of the other family becomes on a
// single-family socket (it has no sockaddr there).
func unreachable(e unix.Errno) bool {
	switch e {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EDESTADDRREQ:
		return true
	}
	return false
}

// send makes one sendmmsg call over the first n prepared messages.
func (s *sender) send(n int) (int, error) {
	s.count = n
	if err := s.c.rc.Write(s.sendFn); err != nil {
		return 0, err
	}
	s.c.cnt.sendCalls.Add(1)
	return s.sent, s.err
}

// account counts the first sent messages and returns their datagrams.
func (s *sender) account(sent int) int {
	datagrams, segmented := 0, 0
	for i := range sent {
		datagrams += s.segs[i]
		if s.segs[i] > 1 {
			segmented++
		}
	}
	s.c.cnt.sentMessages.Add(uint64(sent))
	s.c.cnt.sentDatagrams.Add(uint64(datagrams))
	s.c.cnt.gsoMessages.Add(uint64(segmented))
	return datagrams
}

// segmentedFailed is called when a segmented message failed with probeErr
// and its datagrams then went out one per message. Only EIO says the
// device cannot segment; it turns segmentation off once it has happened
// gsoStrikes times, so one odd destination (an IPsec route also answers
// EIO) does not cost every peer its offload. EINVAL and EMSGSIZE are about
// the batch (a segment above the MTU) and leave segmentation on.
func (c *Conn) segmentedFailed(probeErr unix.Errno, err error) {
	c.cnt.gsoFallbacks.Add(1)
	if probeErr != unix.EIO {
		return
	}
	if c.gsoStrikes.Add(1) < gsoStrikes {
		return
	}
	if c.gsoOn.Swap(false) && c.cfg.OnGSODisabled != nil {
		c.cfg.OnGSODisabled(probeErr)
	}
}

// gsoStrikes is how many segmented sends must fail with EIO, and succeed
// one datagram at a time, before segmentation is turned off for the socket.
const gsoStrikes = 3

// fill prepares up to maxMessages messages starting at segment si of batch
// bi, and returns how many and the cursor just after them. single forces
// one segment per message.
func (s *sender) fill(batches []*gso.Batch, bi, si int, single bool) (n, nbi, nsi int) {
	segmented := !single && s.c.gsoOn.Load()
	for bi < len(batches) && n < maxMessages {
		b := batches[bi]
		left := b.Segments() - si
		if left <= 0 {
			bi, si = bi+1, 0
			continue
		}
		k := 1
		if segmented {
			k = min(left, segmentsPerMessage(b))
		}
		s.encode(n, b, si, k)
		s.batch[n], s.first[n], s.segs[n] = bi, si, k
		n++
		si += k
	}
	return n, bi, si
}

// segmentsPerMessage is the most segments of b one message may carry: the
// kernel's segment limit, and the UDP length limit of the super-datagram.
func segmentsPerMessage(b *gso.Batch) int {
	return max(1, min(maxSegments, gso.MaxBytesFor(b.Dst())/b.SegmentSize()))
}

// encode writes message i: k segments of b from its unsent segment si on.
func (s *sender) encode(i int, b *gso.Batch, si, k int) {
	seg := b.SegmentSize()
	payload := b.Payload()
	start := si * seg
	data := payload[start:min(start+k*seg, len(payload))]
	s.iovs[i].Base = &data[0]
	s.iovs[i].SetLen(len(data))

	h := &s.hdrs[i].hdr
	dst := b.Dst()
	h.Namelen = putSockaddr(&s.names[i], dst, s.c.family)
	gsoSize := 0
	if k > 1 {
		gsoSize = seg
	}
	oob := s.oob[i*sendOOBSpace : (i+1)*sendOOBSpace]
	used := encodeSendOOB(oob, gsoSize, b.Src().Addr(), b.ECN(), dst.Addr().Unmap().Is4())
	if used == 0 {
		h.Control = nil
	} else {
		h.Control = &oob[0]
	}
	h.SetControllen(used)
}
