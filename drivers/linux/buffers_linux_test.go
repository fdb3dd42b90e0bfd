package linux

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func newLoopbackConn(t *testing.T, cfg Config) *Conn {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(uc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTheSocketBuffersAreSizedAndTheGrantReported(t *testing.T) {
	def := newLoopbackConn(t, Config{}).Buffers()
	if def.RecvRequested != DefaultRecvBufferBytes || def.SendRequested != DefaultSendBufferBytes {
		t.Fatalf("requested %+v, want the defaults", def)
	}
	kernel := newLoopbackConn(t, Config{RecvBufferBytes: -1, SendBufferBytes: -1}).Buffers()
	if kernel.RecvRequested != 0 || kernel.SendRequested != 0 {
		t.Fatalf("negative sizes should leave the kernel's: %+v", kernel)
	}
	if os.Geteuid() != 0 {
		// Unprivileged, the sysctl caps apply; Buffers reports them.
		t.Logf("not root: granted %+v against the kernel's own %+v", def, kernel)
		return
	}
	// Privileged, nothing caps the request, and Linux doubles it.
	if def.RecvGranted != 2*DefaultRecvBufferBytes || def.SendGranted != 2*DefaultSendBufferBytes {
		t.Fatalf("as root the kernel should grant twice the request: %+v (its own: %+v)", def, kernel)
	}
}

func TestALargerBufferSetBeforeNewIsKept(t *testing.T) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("a buffer past net.core.rmem_max needs root (SO_RCVBUFFORCE)")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 2*DefaultRecvBufferBytes)
	})
	if serr != nil {
		t.Fatal(serr)
	}
	c, err := New(uc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	{
		if got := c.Buffers().RecvGranted; got != 4*DefaultRecvBufferBytes {
			t.Fatalf("receive buffer %d; the 2x default set before New should stay (%d)", got, 4*DefaultRecvBufferBytes)
		}
	}
}
