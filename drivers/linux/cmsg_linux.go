package linux

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
)

// sendOOBSpace is the control space one sent message may need: a segment
// size (a uint16, as UDP_SEGMENT requires), a source address (in6_pktinfo is
// the larger of the two pktinfo structs) and a traffic class (an int).
var sendOOBSpace = unix.CmsgSpace(2) + unix.CmsgSpace(unix.SizeofInet6Pktinfo) + unix.CmsgSpace(4)

// recvOOBSpace is the control space of one received message: the GRO
// segment size (an int), a destination address and a traffic class, plus
// slack so that a control message we did not ask for truncates nothing we
// need.
var recvOOBSpace = unix.CmsgSpace(4) + unix.CmsgSpace(unix.SizeofInet6Pktinfo) + unix.CmsgSpace(4) + 64

// alignedBytes returns n zeroed bytes aligned for a Cmsghdr (the kernel reads
// the headers in place).
func alignedBytes(n int) []byte {
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

// putCmsg writes a control-message header for dataLen bytes of data at the
// start of b and returns the data part.
func putCmsg(b []byte, level, typ, dataLen int) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = int32(level)
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(dataLen))
	d := b[unix.CmsgLen(0):unix.CmsgLen(dataLen)]
	clear(d)
	return d
}

// encodeSendOOB writes the control messages of one send into b and returns
// how many bytes they take. seg > 0 asks the kernel to cut the payload into
// segments of that size; a valid src picks the source address; ecn is
// written only when it is not Not-ECT (the socket's default). v4 says the
// destination is IPv4, which selects the IPv4 options even on a dual-stack
// socket (the kernel routes v4-mapped sends through its IPv4 path).
func encodeSendOOB(b []byte, seg int, src netip.Addr, ecn gso.ECN, v4 bool) int {
	n := 0
	if seg > 0 {
		d := putCmsg(b[n:], unix.IPPROTO_UDP, unix.UDP_SEGMENT, 2)
		binary.NativeEndian.PutUint16(d, uint16(seg))
		n += unix.CmsgSpace(2)
	}
	src = src.Unmap()
	if src.IsValid() && !src.IsUnspecified() && src.Is4() == v4 {
		if v4 {
			d := putCmsg(b[n:], unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
			// ipi_spec_dst (offset 4) is the source the kernel uses; ipi_addr
			// is ignored on send.
			a := src.As4()
			copy(d[4:8], a[:])
			n += unix.CmsgSpace(unix.SizeofInet4Pktinfo)
		} else {
			d := putCmsg(b[n:], unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			a := src.As16()
			copy(d[:16], a[:])
			n += unix.CmsgSpace(unix.SizeofInet6Pktinfo)
		}
	}
	if ecn != gso.NotECT {
		level, typ := unix.IPPROTO_IPV6, unix.IPV6_TCLASS
		if v4 {
			level, typ = unix.IPPROTO_IP, unix.IP_TOS
		}
		d := putCmsg(b[n:], level, typ, 4)
		binary.NativeEndian.PutUint32(d, uint32(ecn))
		n += unix.CmsgSpace(4)
	}
	return n
}

// recvMeta is what the control messages of one received buffer tell.
type recvMeta struct {
	dst netip.Addr // the address the datagram was sent to; invalid if unknown
	ecn gso.ECN
	seg int // GRO segment size; 0 when the buffer holds one datagram
}

// parseRecvOOB reads the control messages of one received buffer. Unknown
// or malformed ones are ignored: they can only cost us metadata.
func parseRecvOOB(b []byte) recvMeta {
	var m recvMeta
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(b) {
			break
		}
		d := b[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO:
			m.seg = nativeInt(d)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(d) >= unix.SizeofInet4Pktinfo:
			// ipi_addr (offset 8) is the header's destination address.
			m.dst = netip.AddrFrom4([4]byte(d[8:12]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(d) >= unix.SizeofInet6Pktinfo:
			m.dst = netip.AddrFrom16([16]byte(d[:16])).Unmap()
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(d) >= 1:
			// The kernel reports the received TOS as a single byte.
			m.ecn = gso.ECN(d[0] & 3)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS:
			m.ecn = gso.ECN(nativeInt(d) & 3)
		}
		adv := unix.CmsgSpace(l - unix.CmsgLen(0))
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	return m
}

// nativeInt reads a C int (or a shorter integer) in host byte order.
func nativeInt(d []byte) int {
	switch {
	case len(d) >= 4:
		return int(int32(binary.NativeEndian.Uint32(d)))
	case len(d) >= 2:
		return int(binary.NativeEndian.Uint16(d))
	case len(d) == 1:
		return int(d[0])
	}
	return 0
}

// putSockaddr writes dst as the socket family's address into sa (storage
// large enough for either family) and returns its length, or 0 when dst
// cannot be reached from a socket of that family.
func putSockaddr(sa *unix.RawSockaddrInet6, dst netip.AddrPort, family int) uint32 {
	addr := dst.Addr()
	if family == unix.AF_INET {
		addr = addr.Unmap()
		if !addr.Is4() {
			return 0
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: addr.As4()}
		putPort(&sa4.Port, dst.Port())
		return unix.SizeofSockaddrInet4
	}
	// As16 maps an IPv4 address into ::ffff:0:0/96, which a dual-stack
	// socket sends as IPv4. Zones are not carried: link-local destinations
	// need a scope id the driver does not resolve.
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: addr.As16()}
	putPort(&sa.Port, dst.Port())
	return unix.SizeofSockaddrInet6
}

// getSockaddr reads the sender's address the kernel wrote into sa.
func getSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), getPort(&sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// putPort and getPort store a port in network byte order, as sockaddr wants.
func putPort(p *uint16, port uint16) {
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(p))[:], port)
}

func getPort(p *uint16) uint16 {
	return binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:])
}
