package linux

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// Conn is a pump.Conn over one UDP socket. Send, WaitWritable and
// UnsentBytes belong to one goroutine and Recv to one (possibly another);
// Stats, Caps and Close may be called from anywhere.
type Conn struct {
	uc        *net.UDPConn
	rc        syscall.RawConn
	family    int // AF_INET or AF_INET6
	localPort uint16
	cfg       Config

	gsoOn      atomic.Bool  // segmented sends allowed
	gsoStrikes atomic.Int32 // segmented sends that failed with EIO and went out singly
	groOn      bool

	snd sender
	rcv receiver
	oq  outq
	cnt counters
	buf Buffers
}

var _ pump.Conn = (*Conn)(nil)

// New takes over uc (Close closes it), probes what the kernel supports and
// turns on the receive options: UDP_GRO unless disabled, destination
// addresses and traffic classes. Probing sets no option on the socket.
func New(uc *net.UDPConn, cfg Config) (*Conn, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{uc: uc, rc: rc, cfg: cfg}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		c.localPort = uint16(la.Port)
	}
	var setupErr error
	err = rc.Control(func(fd uintptr) { setupErr = c.setup(int(fd)) })
	if err == nil {
		err = setupErr
	}
	if err != nil {
		return nil, fmt.Errorf("linux: socket setup: %w", err)
	}
	c.snd.init(c)
	c.rcv.init(c)
	c.oq.init(c)
	return c, nil
}

// setup learns the socket's family, probes GSO and enables the receive
// options.
func (c *Conn) setup(fd int) error {
	family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return err
	}
	if family != unix.AF_INET && family != unix.AF_INET6 {
		return fmt.Errorf("not an IP socket (family %d)", family)
	}
	c.family = family
	c.buf = sizeBuffers(fd, c.cfg)
	c.gsoOn.Store(!c.cfg.DisableGSO && probeGSO(fd))
	if !c.cfg.DisableGRO {
		c.groOn = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	}
	return enableRecvInfo(fd, family)
}

// probeGSO asks for UDP_SEGMENT's value: a kernel that knows the option
// answers (with 0), one that does not fails with ENOPROTOOPT. Reading sets
// nothing, so a socket that never segments stays exactly as it was.
func probeGSO(fd int) bool {
	_, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	return err == nil
}

// enableRecvInfo asks for the destination address and traffic class of each
// received datagram. A dual-stack IPv6 socket also receives IPv4 datagrams,
// which carry the IPv4 forms; on an IPv6-only socket those options fail
// harmlessly.
func enableRecvInfo(fd, family int) error {
	v4 := [][2]int{{unix.IPPROTO_IP, unix.IP_PKTINFO}, {unix.IPPROTO_IP, unix.IP_RECVTOS}}
	v6 := [][2]int{{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}, {unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}}
	required, optional := v4, [][2]int(nil)
	if family == unix.AF_INET6 {
		required, optional = v6, v4
	}
	for _, o := range required {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			return fmt.Errorf("setsockopt(%d, %d): %w", o[0], o[1], err)
		}
	}
	for _, o := range optional {
		_ = unix.SetsockoptInt(fd, o[0], o[1], 1)
	}
	return nil
}

// Caps reports how many segments a batch may carry: 64 while segmentation
// works, 1 once it is off.
func (c *Conn) Caps() gso.Caps {
	if c.gsoOn.Load() {
		return gso.Caps{MaxSegments: maxSegments}
	}
	return gso.Caps{MaxSegments: 1}
}

// GRO reports whether received buffers may hold coalesced datagrams.
func (c *Conn) GRO() bool { return c.groOn }

// LocalAddr is the socket's bound address.
func (c *Conn) LocalAddr() net.Addr { return c.uc.LocalAddr() }

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats { return c.cnt.snapshot() }

// Close closes the socket; a Recv or WaitWritable in progress returns.
func (c *Conn) Close() error { return c.uc.Close() }

// ConnStats returns the counters in the shape every driver shares.
func (c *Conn) SocketStats() pump.SocketStats {
	s := c.Stats()
	return pump.SocketStats{
		SendCalls: s.SendCalls, SentDatagrams: s.SentDatagrams,
		OffloadMessages: s.GSOMessages, OffloadFallbacks: s.GSOFallbacks,
		RecvCalls: s.RecvCalls, RecvDatagrams: s.RecvDatagrams, CoalescedMessages: s.GROMessages,
		Truncated: s.Truncated + s.ControlTruncated, TooLarge: s.TooLarge, Unreachable: s.Unreachable,
		SkippedDatagrams: s.SkippedDatagrams, OtherErrors: s.OtherErrors,
	}
}
