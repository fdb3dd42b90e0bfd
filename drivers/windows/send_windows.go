//go:build windows

package windows

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"

	"github.com/peerlink/peerlink/state/gso"
)

// Send hands the batches to the stack in order and returns the datagrams
// taken. Errors follow the Linux driver's rules: WSAEMSGSIZE returns an
// error matching ErrMessageTooLarge; an unreachable destination is retried
// once, then the rest of its batch is skipped and counted as taken; any other
// error on a segmented send is tried again one datagram per call and, if
// that works, USO is turned off for the socket (OnUSODisabled, once).
func (c *Conn) Send(batches []*gso.Batch) (int, error) {
	taken := 0
	for _, b := range batches {
		n, err := c.sendBatch(b)
		taken += n
		if err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// sendBatch sends b's unsent segments, as many per call as USO allows.
func (c *Conn) sendBatch(b *gso.Batch) (int, error) {
	total, seg, payload := b.Segments(), b.SegmentSize(), b.Payload()
	dst := b.Dst()
	v4 := dst.Addr().Unmap().Is4()
	per := max(1, min(maxSegments, gso.MaxBytesFor(dst)/seg))
	sent := 0
	retried, probe := false, false
	var usoErr error
	for sent < total {
		k := 1
		if !probe && c.usoOn.Load() {
			k = min(total-sent, per)
		}
		size := 0
		if k > 1 {
			size = seg
		}
		oobn := native.encodeSend(c.soob, size, b.Src().Addr(), b.ECN(), v4)
		data := payload[sent*seg : min((sent+k)*seg, len(payload))]
		_, _, err := c.uc.WriteMsgUDPAddrPort(data, c.soob[:oobn], dst)
		c.cnt.sendCalls.Add(1)
		switch {
		case err == nil:
			sent += k
			c.cnt.sentDatagrams.Add(uint64(k))
			if k > 1 {
				c.cnt.usoMessages.Add(1)
			}
			if probe {
				c.disableUSO(usoErr)
			}
			retried, probe = false, false
		case errors.Is(err, windows.WSAEMSGSIZE):
			c.cnt.tooLarge.Add(1)
			return sent, fmt.Errorf("%w: %d-byte datagrams to %v: %w", ErrMessageTooLarge, seg, dst, err)
		case unreachable(err):
			c.cnt.unreachable.Add(1)
			if !retried {
				retried = true
				continue
			}
			c.cnt.skipped.Add(uint64(total - sent))
			return total, nil
		case k > 1:
			probe, usoErr = true, err
		default:
			c.cnt.other.Add(1)
			return sent, fmt.Errorf("windows: send to %v: %w", dst, err)
		}
	}
	return sent, nil
}

// unreachable reports errors about the destination, not the socket.
// WSAECONNRESET is an ICMP port-unreachable report (when the stack is
// allowed to deliver them).
func unreachable(err error) bool {
	return errors.Is(err, windows.WSAENETUNREACH) || errors.Is(err, windows.WSAEHOSTUNREACH) ||
		errors.Is(err, windows.WSAECONNRESET)
}

// disableUSO turns segmentation off after a segmented send failed and the
// same datagrams went out one per call.
func (c *Conn) disableUSO(err error) {
	c.cnt.usoFallbacks.Add(1)
	if c.usoOn.Swap(false) && c.cfg.OnUSODisabled != nil {
		c.cfg.OnUSODisabled(err)
	}
}
