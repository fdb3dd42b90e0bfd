//go:build windows

package windows

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/windows"

	"github.com/peerlink/peerlink/state/pump"
)

// Recv waits for one datagram (or, with URO, one coalesced buffer) and fills
// msgs[0]. A datagram that did not fit the buffer, or whose control
// messages were cut, is dropped and counted, and Recv waits for the next.
func (c *Conn) Recv(msgs []pump.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	m := &msgs[0]
	for {
		n, oobn, flags, src, err := c.uc.ReadMsgUDPAddrPort(m.Buf, c.roob)
		if errors.Is(err, windows.WSAEMSGSIZE) || err == nil && flags&msgTrunc != 0 {
			c.cnt.truncated.Add(1)
			continue
		}
		if err != nil {
			return 0, err
		}
		if flags&msgCtrunc != 0 {
			c.cnt.controlTruncated.Add(1)
			continue
		}
		c.cnt.recvCalls.Add(1)
		meta := native.parseRecv(c.roob[:oobn])
		m.N = n
		m.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		m.Dst = netip.AddrPort{}
		if meta.dst.IsValid() {
			m.Dst = netip.AddrPortFrom(meta.dst, c.localPort)
		}
		m.ECN = meta.ecn
		m.SegmentSize = meta.seg
		datagrams := 1
		if meta.seg > 0 && meta.seg < n {
			datagrams = (n + meta.seg - 1) / meta.seg
			c.cnt.uroMessages.Add(1)
		}
		c.cnt.recvDatagrams.Add(uint64(datagrams))
		return 1, nil
	}
}
