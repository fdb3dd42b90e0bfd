package windows

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peerlink/peerlink/state/gso"
)

// The golden bytes below were written out by hand from the WSACMSGHDR
// definition in ws2def.h: a SIZE_T length, INT level, INT type, data aligned
// to the pointer size, each message padded to WSA_CMSG_SPACE.
var (
	win64 = layout{word: 8}
	win32 = layout{word: 4}
)

func TestTheLayoutMatchesTheWSACMSGMacros(t *testing.T) {
	for _, tc := range []struct {
		l                         layout
		hdr, data, len4, space4   int
		spaceIn6Pktinfo, spaceIn4 int
	}{
		{win64, 16, 16, 20, 24, 40, 24},
		{win32, 12, 12, 16, 16, 32, 20},
	} {
		got := []int{tc.l.hdrLen(), tc.l.dataOff(), tc.l.cmsgLen(4), tc.l.space(4), tc.l.space(sizeofIn6Pktinfo), tc.l.space(sizeofInPktinfo)}
		want := []int{tc.hdr, tc.data, tc.len4, tc.space4, tc.spaceIn6Pktinfo, tc.spaceIn4}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("word %d: got %v, want %v", tc.l.word, got, want)
				break
			}
		}
	}
}

func TestASegmentedIPv4SendWithSourceAndECNEncodesToTheGoldenBytes(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		l    layout
		want []byte
	}{
		{win64, []byte{
			// UDP_SEND_MSG_SIZE = 1200
			20, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 0xb0, 0x04, 0, 0, 0, 0, 0, 0,
			// IP_PKTINFO 192.0.2.1, interface 0
			24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 192, 0, 2, 1, 0, 0, 0, 0,
			// IP_ECN = ECT(0)
			20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
		}},
		{win32, []byte{
			16, 0, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 0xb0, 0x04, 0, 0,
			20, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 192, 0, 2, 1, 0, 0, 0, 0,
			16, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 2, 0, 0, 0,
		}},
	} {
		b := bytes.Repeat([]byte{0xee}, tc.l.sendSpace())
		n := tc.l.encodeSend(b, 1200, src, gso.ECT0, true)
		if !bytes.Equal(b[:n], tc.want) {
			t.Errorf("word %d:\n got %v\nwant %v", tc.l.word, b[:n], tc.want)
		}
	}
}

func TestAnIPv6SendWithSourceAndECT1EncodesToTheGoldenBytes(t *testing.T) {
	src := netip.MustParseAddr("2001:db8::7")
	want := []byte{
		// IPV6_PKTINFO 2001:db8::7, interface 0, padded to 40
		36, 0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0, 19, 0, 0, 0,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
		0, 0, 0, 0, 0, 0, 0, 0,
		// IPV6_ECN = ECT(1)
		20, 0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0, 50, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
	}
	b := bytes.Repeat([]byte{0xee}, win64.sendSpace())
	n := win64.encodeSend(b, 0, src, gso.ECT1, false)
	if !bytes.Equal(b[:n], want) {
		t.Errorf("\n got %v\nwant %v", b[:n], want)
	}
}

func TestNothingIsEncodedForAPlainSendAndCEIsNotSent(t *testing.T) {
	b := make([]byte, win64.sendSpace())
	if n := win64.encodeSend(b, 0, netip.Addr{}, gso.NotECT, true); n != 0 {
		t.Errorf("plain send encoded %d bytes", n)
	}
	if n := win64.encodeSend(b, 0, netip.Addr{}, gso.CE, true); n != 0 {
		t.Errorf("CE send encoded %d bytes; Winsock would fail the send", n)
	}
	// A source of the other family than the destination cannot be used.
	if n := win64.encodeSend(b, 0, netip.MustParseAddr("::1"), gso.NotECT, true); n != 0 {
		t.Errorf("IPv6 source for an IPv4 destination encoded %d bytes", n)
	}
}

func TestReceivedCoalescingPktinfoAndECNAreParsed(t *testing.T) {
	for _, tc := range []struct {
		l  layout
		in []byte
	}{
		{win64, []byte{
			// UDP_COALESCED_INFO = 1200
			20, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0, 0xb0, 0x04, 0, 0, 0, 0, 0, 0,
			// an unknown message (IP_TTL) to skip
			20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0,
			// IP_PKTINFO 198.51.100.9 on interface 12
			24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 198, 51, 100, 9, 12, 0, 0, 0,
			// IP_ECN = CE
			20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 3, 0, 0, 0,
		}},
		{win32, []byte{
			16, 0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0, 0xb0, 0x04, 0, 0,
			16, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 64, 0, 0, 0,
			20, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 198, 51, 100, 9, 12, 0, 0, 0,
			16, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 3, 0, 0, 0,
		}},
	} {
		m := tc.l.parseRecv(tc.in)
		want := recvMeta{dst: netip.MustParseAddr("198.51.100.9"), ecn: gso.CE, seg: 1200}
		if m != want {
			t.Errorf("word %d: parsed %+v, want %+v", tc.l.word, m, want)
		}
	}
}

func TestAnIPv6PktinfoOfAMappedAddressIsUnmapped(t *testing.T) {
	b := make([]byte, win64.recvSpace())
	d := win64.put(b, ipprotoIPv6, ipv6Pktinfo, sizeofIn6Pktinfo)
	a := netip.MustParseAddr("::ffff:10.0.0.1").As16()
	copy(d, a[:])
	if m := win64.parseRecv(b[:win64.space(sizeofIn6Pktinfo)]); m.dst != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("dst %v, want 10.0.0.1", m.dst)
	}
}

func TestMalformedControlMessagesAreIgnored(t *testing.T) {
	for _, in := range [][]byte{
		nil,
		{1, 2, 3},
		{200, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0},                        // length beyond the buffer
		{4, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0, 0xb0, 0x04, 0, 0},        // length inside the header
		{18, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0, 0xb0, 0x04, 0, 0, 0, 0}, // data too short for a DWORD
	} {
		if m := win64.parseRecv(in); m != (recvMeta{}) {
			t.Errorf("%v parsed as %+v", in, m)
		}
	}
}
