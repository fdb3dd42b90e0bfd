package windows

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/peerlink/peerlink/state/gso"
)

// Winsock protocol levels and control-message types (ws2def.h, ws2ipdef.h,
// ws2tcpip.h). They are spelled out here rather than taken from
// x/sys/windows so that this file builds, and is tested, on every OS.
const (
	ipprotoIP   = 0
	ipprotoIPv6 = 41
	ipprotoUDP  = 17

	ipPktinfo   = 19 // IP_PKTINFO: IN_PKTINFO, source on send, destination on receive
	ipv6Pktinfo = 19 // IPV6_PKTINFO: IN6_PKTINFO
	ipECN       = 50 // IP_ECN (sockopt IP_RECVECN has the same value)
	ipv6ECN     = 50 // IPV6_ECN (and IPV6_RECVECN)

	udpSendMsgSize          = 2 // UDP_SEND_MSG_SIZE: a DWORD segment size
	udpRecvMaxCoalescedSize = 3 // UDP_RECV_MAX_COALESCED_SIZE (socket option)
	udpCoalescedInfo        = 3 // UDP_COALESCED_INFO: a DWORD segment size

	sizeofInPktinfo  = 8  // IN_ADDR ipi_addr; ULONG ipi_ifindex
	sizeofIn6Pktinfo = 20 // IN6_ADDR ipi6_addr; ULONG ipi6_ifindex
)

// layout is the WSACMSGHDR geometry of one architecture. The header is a
// SIZE_T length and two INTs; headers and data are aligned to the pointer
// size (TYPE_ALIGNMENT(WSACMSGHDR) and MAX_NATURAL_ALIGNMENT are both 8 on
// 64-bit Windows and 4 on 32-bit).
type layout struct{ word int }

// native is the layout of the architecture being built.
var native = layout{word: int(unsafe.Sizeof(uintptr(0)))}

func (l layout) align(n int) int { return (n + l.word - 1) &^ (l.word - 1) }

// hdrLen is sizeof(WSACMSGHDR).
func (l layout) hdrLen() int { return l.word + 8 }

// dataOff is where WSA_CMSG_DATA points.
func (l layout) dataOff() int { return l.align(l.hdrLen()) }

// cmsgLen is WSA_CMSG_LEN: the value of cmsg_len for n bytes of data.
func (l layout) cmsgLen(n int) int { return l.dataOff() + n }

// space is WSA_CMSG_SPACE: the bytes one control message of n data bytes
// occupies, padding included.
func (l layout) space(n int) int { return l.align(l.hdrLen() + l.align(n)) }

// sendSpace is the control space one send may need: segment size, source
// address (the larger IPv6 form) and ECN.
func (l layout) sendSpace() int { return l.space(4) + l.space(sizeofIn6Pktinfo) + l.space(4) }

// recvSpace is the control space of one receive: coalescing info, a
// destination address and ECN, plus slack for messages we did not ask for.
func (l layout) recvSpace() int { return l.space(4) + l.space(sizeofIn6Pktinfo) + l.space(4) + 64 }

// put writes a control-message header at the start of b and returns its
// zeroed data part. Windows runs little-endian on every architecture.
func (l layout) put(b []byte, level, typ, n int) []byte {
	clear(b[:l.space(n)])
	if l.word == 8 {
		binary.LittleEndian.PutUint64(b, uint64(l.cmsgLen(n)))
	} else {
		binary.LittleEndian.PutUint32(b, uint32(l.cmsgLen(n)))
	}
	binary.LittleEndian.PutUint32(b[l.word:], uint32(level))
	binary.LittleEndian.PutUint32(b[l.word+4:], uint32(typ))
	return b[l.dataOff() : l.dataOff()+n]
}

// encodeSend writes the control messages of one send into b and returns
// their length. seg > 0 asks for segmentation into seg-byte datagrams; a
// valid src picks the source address; v4 says the destination is IPv4,
// which selects the IPv4 forms. Winsock refuses to send CE (WSAEINVAL), so a
// CE datagram goes as Not-ECT rather than not at all; Not-ECT is the
// default and needs no message.
func (l layout) encodeSend(b []byte, seg int, src netip.Addr, ecn gso.ECN, v4 bool) int {
	n := 0
	if seg > 0 {
		d := l.put(b[n:], ipprotoUDP, udpSendMsgSize, 4)
		binary.LittleEndian.PutUint32(d, uint32(seg))
		n += l.space(4)
	}
	src = src.Unmap()
	if src.IsValid() && !src.IsUnspecified() && src.Is4() == v4 {
		if v4 {
			d := l.put(b[n:], ipprotoIP, ipPktinfo, sizeofInPktinfo)
			a := src.As4()
			copy(d, a[:])
			n += l.space(sizeofInPktinfo)
		} else {
			d := l.put(b[n:], ipprotoIPv6, ipv6Pktinfo, sizeofIn6Pktinfo)
			a := src.As16()
			copy(d, a[:])
			n += l.space(sizeofIn6Pktinfo)
		}
	}
	if ecn == gso.ECT0 || ecn == gso.ECT1 {
		level, typ := ipprotoIPv6, ipv6ECN
		if v4 {
			level, typ = ipprotoIP, ipECN
		}
		d := l.put(b[n:], level, typ, 4)
		binary.LittleEndian.PutUint32(d, uint32(ecn))
		n += l.space(4)
	}
	return n
}

// recvMeta is what the control messages of one received buffer tell.
type recvMeta struct {
	dst netip.Addr // invalid when the stack did not say
	ecn gso.ECN
	seg int // coalesced segment size; 0 for a single datagram
}

// parseRecv reads received control messages; unknown or malformed ones are
// skipped, since they can only cost metadata.
func (l layout) parseRecv(b []byte) recvMeta {
	var m recvMeta
	for len(b) >= l.hdrLen() {
		var length int
		if l.word == 8 {
			length = int(binary.LittleEndian.Uint64(b))
		} else {
			length = int(binary.LittleEndian.Uint32(b))
		}
		if length < l.dataOff() || length > len(b) {
			break
		}
		level := int32(binary.LittleEndian.Uint32(b[l.word:]))
		typ := int32(binary.LittleEndian.Uint32(b[l.word+4:]))
		d := b[l.dataOff():length]
		switch {
		case level == ipprotoUDP && typ == udpCoalescedInfo && len(d) >= 4:
			m.seg = int(binary.LittleEndian.Uint32(d))
		case level == ipprotoIP && typ == ipPktinfo && len(d) >= sizeofInPktinfo:
			m.dst = netip.AddrFrom4([4]byte(d[:4]))
		case level == ipprotoIPv6 && typ == ipv6Pktinfo && len(d) >= sizeofIn6Pktinfo:
			m.dst = netip.AddrFrom16([16]byte(d[:16])).Unmap()
		case (level == ipprotoIP && typ == ipECN || level == ipprotoIPv6 && typ == ipv6ECN) && len(d) >= 4:
			m.ecn = gso.ECN(binary.LittleEndian.Uint32(d) & 3)
		}
		adv := l.align(length)
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return m
}
