package linux

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
)

// loopbacks are the two address families every loopback test runs on.
var loopbacks = []struct{ name, network, addr string }{
	{"IPv4", "udp4", "127.0.0.1:0"},
	{"IPv6", "udp6", "[::1]:0"},
}

func TestSegmentedSendOf64x1200ArrivesAs64ExactDatagramsAtAPlainReceiver(t *testing.T) {
	for _, lb := range loopbacks {
		t.Run(lb.name, func(t *testing.T) {
			c := newConn(t, lb.network, lb.addr, Config{})
			if c.Caps().MaxSegments < 2 {
				t.Skip("kernel without UDP_SEGMENT")
			}
			rx := listen(t, lb.network, lb.addr)
			q := gso.New(gso.Config{Caps: c.Caps()})
			enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 64, gso.Data)

			flush(t, q, c)

			checkSequence(t, readPlain(t, rx, 64), 0, 1200)
			st := c.Stats()
			if st.SendCalls != 1 || st.SentDatagrams != 64 || st.GSOMessages == 0 {
				t.Fatalf("want one sendmmsg carrying 64 datagrams in segmented messages, got %+v", st)
			}
		})
	}
}

func TestAMessageNeverExceedsTheUDPLengthLimit(t *testing.T) {
	for _, tc := range []struct {
		dst       string
		size, max int
	}{
		{"127.0.0.1:9", 1200, 54}, // 54*1200 = 64800 <= 65507
		{"[::1]:9", 1200, 54},     // 65527/1200 = 54 as well
		{"127.0.0.1:9", 100, 64},  // the segment limit binds first
		{"127.0.0.1:9", 1400, 46}, // 46*1400 = 64400
	} {
		q := gso.New(gso.Config{Caps: gso.Caps{MaxSegments: 128}})
		dst := netip.MustParseAddrPort(tc.dst)
		enqueue(t, q, datagram{dst: dst, size: tc.size}, 0, 1, gso.Data)
		b := q.Peek(make([]*gso.Batch, 0, 8))[0]
		if got := segmentsPerMessage(b); got != tc.max {
			t.Errorf("%d-byte segments to %v: %d per message, want %d", tc.size, dst, got, tc.max)
		}
	}
}

func TestProbingForSegmentationLeavesNoOptionSet(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	c.rc.Control(func(fd uintptr) {
		v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		if err == nil && v != 0 {
			t.Errorf("UDP_SEGMENT is %d after New, want 0", v)
		}
	})
}

func TestTheSourceAddressOfEachBatchIsChosenWithPktinfo(t *testing.T) {
	c := newConn(t, "udp4", "0.0.0.0:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	q := gso.New(gso.Config{Caps: c.Caps()})
	// 127.0.0.0/8 is all local, so these are valid sources on any host.
	srcs := []string{"127.0.0.2", "127.0.0.3"}
	for i, s := range srcs {
		src := netip.AddrPortFrom(netip.MustParseAddr(s), 0)
		enqueue(t, q, datagram{src: src, dst: addrOf(rx), size: 300}, i*3, 3, gso.Data)
	}
	flush(t, q, c)

	rx.SetReadDeadline(deadline())
	buf := make([]byte, 2048)
	for i := range 6 {
		_, from, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if want := srcs[i/3]; from.Addr().String() != want {
			t.Fatalf("datagram %d came from %v, want %s", i, from, want)
		}
	}
}

func TestASocketOfOneFamilySkipsDestinationsOfTheOther(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := listen(t, "udp4", "127.0.0.1:0")
	q := gso.New(gso.Config{Caps: c.Caps()})
	enqueue(t, q, datagram{dst: netip.MustParseAddrPort("[2001:db8::1]:9"), size: 100}, 0, 3, gso.Data)
	enqueue(t, q, datagram{dst: addrOf(rx), size: 100}, 3, 2, gso.Data)

	n, err := c.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if err != nil || n != 5 {
		t.Fatalf("Send = %d, %v; want all 5 taken (3 skipped) and no error", n, err)
	}
	checkSequence(t, readPlain(t, rx, 2), 3, 100)
	if st := c.Stats(); st.SkippedDatagrams != 3 || st.Unreachable != 2 {
		t.Fatalf("want 3 skipped after a retry, got %+v", st)
	}
}
