//go:build windows

package windows

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"golang.org/x/sys/windows"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// Winsock receive flags (winsock2.h).
const (
	msgTrunc  = 0x0100
	msgCtrunc = 0x0200
	// sockopts that enable ECN control messages on receive.
	ipRecvECN   = 50
	ipv6RecvECN = 50
)

// Conn is a pump.Conn over one UDP socket. Send belongs to one goroutine and
// Recv to one (possibly another); Stats, Caps and Close may be called from
// anywhere.
type Conn struct {
	uc        *net.UDPConn
	cfg       Config
	localPort uint16
	usoOn     atomic.Bool
	uroOn     bool
	soob      []byte // Send's control space
	roob      []byte // Recv's control space
	cnt       counters
}

var _ pump.Conn = (*Conn)(nil)

// New takes over uc (Close closes it), probes USO and asks for the
// destination address and ECN of every received datagram.
func New(uc *net.UDPConn, cfg Config) (*Conn, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{
		uc:   uc,
		cfg:  cfg,
		soob: make([]byte, native.sendSpace()),
		roob: make([]byte, native.recvSpace()),
	}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		c.localPort = uint16(la.Port)
	}
	var setupErr error
	err = rc.Control(func(fd uintptr) { setupErr = c.setup(windows.Handle(fd)) })
	if err == nil {
		err = setupErr
	}
	if err != nil {
		return nil, fmt.Errorf("windows: socket setup: %w", err)
	}
	return c, nil
}

func (c *Conn) setup(h windows.Handle) error {
	if !c.cfg.DisableUSO {
		// 0 means "no segmentation", so setting it changes nothing, and only
		// a stack that knows the option accepts it.
		c.usoOn.Store(windows.SetsockoptInt(h, ipprotoUDP, udpSendMsgSize, 0) == nil)
	}
	if c.cfg.EnableURO {
		c.uroOn = windows.SetsockoptInt(h, ipprotoUDP, udpRecvMaxCoalescedSize, gso.MaxBytesIPv4) == nil
	}
	// A dual-stack socket receives both families, so both forms are asked
	// for; the one that does not apply to the socket fails harmlessly.
	pktinfo := false
	for _, o := range [][2]int{{ipprotoIP, ipPktinfo}, {ipprotoIPv6, ipv6Pktinfo}} {
		if windows.SetsockoptInt(h, o[0], o[1], 1) == nil {
			pktinfo = true
		}
	}
	if !pktinfo {
		return errors.New("neither IP_PKTINFO nor IPV6_PKTINFO could be enabled")
	}
	// ECN reporting needs Windows 10 2004 or later; without it ECN reads 0.
	_ = windows.SetsockoptInt(h, ipprotoIP, ipRecvECN, 1)
	_ = windows.SetsockoptInt(h, ipprotoIPv6, ipv6RecvECN, 1)
	return nil
}

// Caps reports how many datagrams a batch may carry.
func (c *Conn) Caps() gso.Caps {
	if c.usoOn.Load() {
		return gso.Caps{MaxSegments: maxSegments}
	}
	return gso.Caps{MaxSegments: 1}
}

// URO reports whether received buffers may hold coalesced datagrams.
func (c *Conn) URO() bool { return c.uroOn }

// LocalAddr is the socket's bound address.
func (c *Conn) LocalAddr() net.Addr { return c.uc.LocalAddr() }

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats { return c.cnt.snapshot() }

// WaitWritable returns at once: Winsock sends wait for room themselves, so
// Send never reports pump.ErrWouldBlock.
func (c *Conn) WaitWritable() error { return nil }

// Close closes the socket; a Recv in progress returns.
func (c *Conn) Close() error { return c.uc.Close() }

// ConnStats returns the counters in the shape every driver shares.
func (c *Conn) SocketStats() pump.SocketStats {
	s := c.Stats()
	return pump.SocketStats{
		SendCalls: s.SendCalls, SentDatagrams: s.SentDatagrams,
		OffloadMessages: s.USOMessages, OffloadFallbacks: s.USOFallbacks,
		RecvCalls: s.RecvCalls, RecvDatagrams: s.RecvDatagrams, CoalescedMessages: s.UROMessages,
		Truncated: s.Truncated + s.ControlTruncated, TooLarge: s.TooLarge, Unreachable: s.Unreachable,
		SkippedDatagrams: s.SkippedDatagrams, OtherErrors: s.OtherErrors,
	}
}
