package linux

import (
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// fakeKernel replaces the send system call for one test. decide sees the
// messages of each call and returns how many to hand to the real kernel
// (all, or a prefix) and an error to return instead when that is zero.
func fakeKernel(t *testing.T, decide func(call int, msgs []mmsghdr) (int, error)) {
	calls := 0
	sendmmsgFunc = func(fd int, msgs []mmsghdr) (int, error) {
		calls++
		n, err := decide(calls, msgs)
		n = min(n, len(msgs))
		if n == 0 {
			return 0, err
		}
		return sendmmsg(fd, msgs[:n])
	}
	t.Cleanup(func() { sendmmsgFunc = sendmmsg })
}

// segmented reports whether a message asks the kernel to segment.
func segmented(m *mmsghdr) bool {
	if m.hdr.Control == nil {
		return false
	}
	oob := unsafe.Slice(m.hdr.Control, m.hdr.Controllen)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	return h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_SEGMENT
}

// rejectSegmentation is a kernel whose device cannot segment: every
// segmented message fails with errno, single datagrams go.
func rejectSegmentation(errno unix.Errno) func(int, []mmsghdr) (int, error) {
	return func(_ int, msgs []mmsghdr) (int, error) {
		if segmented(&msgs[0]) {
			return 0, errno
		}
		for i := range msgs {
			if segmented(&msgs[i]) {
				return i, nil
			}
		}
		return len(msgs), nil
	}
}

// A segmented message the kernel rejects goes out one datagram per message.
// Only EIO (a device that cannot segment) counts toward turning GSO off,
// and only on the gsoStrikes-th time, so one odd destination does not cost
// every peer its offload; EINVAL (a segment above the MTU on older
// kernels) never does.
func TestARejectedSegmentedSendIsResentSinglyAndNothingIsLost(t *testing.T) {
	for _, tc := range []struct {
		errno       unix.Errno
		disableAt   int // round after which GSO is off; 0 = never
		wantReports int
	}{{unix.EIO, gsoStrikes, 1}, {unix.EINVAL, 0, 0}, {unix.EMSGSIZE, 0, 0}} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			var reports []error
			c := newConn(t, "udp4", "127.0.0.1:0", Config{OnGSODisabled: func(err error) { reports = append(reports, err) }})
			if c.Caps().MaxSegments < 2 {
				t.Skip("kernel without UDP_SEGMENT")
			}
			rx := listen(t, "udp4", "127.0.0.1:0")
			fakeKernel(t, rejectSegmentation(tc.errno))
			for round := 1; round <= gsoStrikes+1; round++ {
				q := gso.New(gso.Config{Caps: c.Caps()})
				enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 64, gso.Data)
				n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 64)))
				if n != 64 || err != nil {
					t.Fatalf("round %d: Send = %d, %v; want 64 taken and no error", round, n, err)
				}
				checkSequence(t, readPlain(t, rx, 64), 0, 1200)
				off := tc.disableAt != 0 && round >= tc.disableAt
				if got := c.Caps().MaxSegments == 1; got != off {
					t.Fatalf("round %d: GSO off = %v, want %v", round, got, off)
				}
			}
			if len(reports) != tc.wantReports || (tc.wantReports > 0 && !errors.Is(reports[0], tc.errno)) {
				t.Errorf("OnGSODisabled calls: %v, want %d with %v", reports, tc.wantReports, tc.errno)
			}
			if c.Stats().GSOFallbacks == 0 {
				t.Errorf("fallbacks not counted: %+v", c.Stats())
			}
		})
	}
}

func TestAnEINVALThatSingleDatagramsShareIsReturnedAndGSOStaysOn(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	if c.Caps().MaxSegments < 2 {
		t.Skip("kernel without UDP_SEGMENT")
	}
	fakeKernel(t, func(int, []mmsghdr) (int, error) { return 0, unix.EINVAL })
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: netip.MustParseAddrPort("127.0.0.1:9"), size: 1200}, 0, 10, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if n != 0 || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Send = %d, %v; want 0 and EINVAL", n, err)
	}
	if c.Caps().MaxSegments < 2 {
		t.Error("GSO was turned off although the segments were not to blame")
	}
}

func TestAShortSendmmsgContinuesWhereItStopped(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{DisableGSO: true})
	rx := listen(t, "udp4", "127.0.0.1:0")
	fakeKernel(t, func(int, []mmsghdr) (int, error) { return 1, nil })
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 200}, 0, 10, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 16)))

	if n != 10 || err != nil {
		t.Fatalf("Send = %d, %v; want 10, nil", n, err)
	}
	checkSequence(t, readPlain(t, rx, 10), 0, 200)
	if st := c.Stats(); st.SendCalls != 10 {
		t.Errorf("SendCalls = %d, want 10 (one message each)", st.SendCalls)
	}
}

func TestWouldBlockReportsWhatWasTakenAndTheRestFollowsLater(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	// The first call takes one message, the second finds the buffer full.
	fakeKernel(t, func(call int, _ []mmsghdr) (int, error) {
		switch call {
		case 1:
			return 1, nil
		case 2:
			return 0, unix.EAGAIN
		}
		return 64, nil
	})
	q := gso.New(gso.Config{Caps: gso.Caps{MaxSegments: 4}})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1000}, 0, 12, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 16)))

	if !errors.Is(err, pump.ErrWouldBlock) || n != 4 {
		t.Fatalf("Send = %d, %v; want the first batch taken, then ErrWouldBlock", n, err)
	}
	if err := q.Advance(n); err != nil {
		t.Fatal(err)
	}
	flush(t, q, c)
	checkSequence(t, readPlain(t, rx, 12), 0, 1000)
	if c.Stats().WouldBlock != 1 {
		t.Errorf("WouldBlock = %d, want 1", c.Stats().WouldBlock)
	}
}

func TestEMSGSIZEIsReturnedAsMessageTooLargeWithAnAccurateCount(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	big := netip.AddrPortFrom(addrOf(rx).Addr(), 9)
	fakeKernel(t, func(_ int, msgs []mmsghdr) (int, error) {
		for i := range msgs {
			if getSockaddr(&c.snd.names[i]) == big {
				if i == 0 {
					return 0, unix.EMSGSIZE
				}
				return i, nil
			}
		}
		return len(msgs), nil
	})
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 5, gso.Data)
	enqueue(t, q, datagram{dst: big, size: 1400}, 5, 5, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if n != 5 || !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("Send = %d, %v; want 5 and ErrMessageTooLarge", n, err)
	}
	checkSequence(t, readPlain(t, rx, 5), 0, 1200)
}

func TestARefusedSendIsRetriedOnceBecauseTheErrorMayBeStale(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	fakeKernel(t, func(call int, msgs []mmsghdr) (int, error) {
		if call == 1 {
			return 0, unix.ECONNREFUSED
		}
		return len(msgs), nil
	})
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 300}, 0, 4, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if n != 4 || err != nil {
		t.Fatalf("Send = %d, %v; want 4, nil", n, err)
	}
	checkSequence(t, readPlain(t, rx, 4), 0, 300)
	if st := c.Stats(); st.Unreachable != 1 || st.SkippedDatagrams != 0 {
		t.Errorf("want one refusal counted and nothing skipped, got %+v", st)
	}
}

func TestAnUnreachableBatchIsSkippedAndTheNextOneStillGoes(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	dead := netip.MustParseAddrPort("192.0.2.1:9")
	fakeKernel(t, func(_ int, msgs []mmsghdr) (int, error) {
		if getSockaddr(&c.snd.names[0]) == dead {
			return 0, unix.EHOSTUNREACH
		}
		return len(msgs), nil
	})
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: dead, size: 300}, 0, 4, gso.Data)
	enqueue(t, q, datagram{dst: addrOf(rx), size: 300}, 4, 4, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if n != 8 || err != nil {
		t.Fatalf("Send = %d, %v; want 8 (4 skipped), nil", n, err)
	}
	checkSequence(t, readPlain(t, rx, 4), 4, 300)
	if st := c.Stats(); st.SkippedDatagrams != 4 {
		t.Errorf("SkippedDatagrams = %d, want 4", st.SkippedDatagrams)
	}
}
