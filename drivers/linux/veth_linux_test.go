package linux

import (
	"errors"
	"net/netip"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/state/gso"
)

func TestSegmentedSendsCrossARealVethIntact(t *testing.T) {
	p := newVethPair(t)
	t.Run("device segmentation", func(t *testing.T) {
		sendAcrossVeth(t, p)
	})
	t.Run("software segmentation", func(t *testing.T) {
		if _, err := exec.LookPath("ethtool"); err != nil {
			t.Skip("needs ethtool to turn tx-udp-segmentation off")
		}
		run(t, "ip", "netns", "exec", p.A, "ethtool", "-K", p.DevA, "tx-udp-segmentation", "off")
		sendAcrossVeth(t, p)
	})
}

// sendAcrossVeth sends 200 datagrams of 1200 bytes from A through the
// driver and reads them in B both from a plain socket and from a GRO Conn.
func sendAcrossVeth(t *testing.T, p *vethPair) {
	tx := connIn(t, p.A, netip.AddrPortFrom(p.AddrA, 0), Config{})
	plain := listenIn(t, p.B, netip.AddrPortFrom(p.AddrB, 0))
	gro := connIn(t, p.B, netip.AddrPortFrom(p.AddrB, 0), Config{})
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(plain), size: 1200}, 0, 200, gso.Data)
	enqueue(t, q, datagram{dst: addrOf(gro), size: 1200}, 0, 200, gso.Data)

	flush(t, q, tx)

	checkSequence(t, readPlain(t, plain, 200), 0, 1200)
	got := recvConn(t, gro, 200)
	bufs := make([][]byte, len(got))
	for i, r := range got {
		bufs[i] = r.b
	}
	checkSequence(t, bufs, 0, 1200)
	if st := tx.Stats(); tx.Caps().MaxSegments > 1 && st.GSOMessages == 0 {
		t.Errorf("nothing was segmented: %+v", st)
	}
}

// A GSO segment above the device MTU fails the segmented send (EMSGSIZE,
// or EINVAL before Linux 6.11); the same datagrams go out one per message,
// which the kernel fragments, and segmentation stays on for other batches.
func TestSegmentsLargerThanTheDeviceMTUGoOutSinglyAndGSOStaysOn(t *testing.T) {
	p := newVethPair(t)
	run(t, "ip", "-n", p.A, "link", "set", p.DevA, "mtu", "1100")
	tx := connIn(t, p.A, netip.AddrPortFrom(p.AddrA, 0), Config{})
	if tx.Caps().MaxSegments < 2 {
		t.Skip("kernel without UDP_SEGMENT")
	}
	rx := listenIn(t, p.B, netip.AddrPortFrom(p.AddrB, 0))
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1000}, 0, 10, gso.Data)
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 10, 10, gso.Data)

	n, err := tx.Send(q.Peek(make([]*gso.Batch, 0, 8)))

	if n != 20 || err != nil {
		t.Fatalf("Send = %d, %v; want all 20 taken", n, err)
	}
	got := readPlain(t, rx, 20)
	checkSequence(t, got[:10], 0, 1000)
	checkSequence(t, got[10:], 10, 1200)
	if tx.Caps().MaxSegments < 2 || tx.Stats().GSOFallbacks == 0 {
		t.Errorf("after an MTU failure: caps %+v, stats %+v; want GSO on and the fallback counted", tx.Caps(), tx.Stats())
	}
}

// With path-MTU discovery forced on (don't fragment), a single datagram
// above the MTU is EMSGSIZE: reported as ErrMessageTooLarge, with the
// datagrams before it counted as taken.
func TestADatagramAboveTheMTUWithDontFragmentIsMessageTooLarge(t *testing.T) {
	p := newVethPair(t)
	run(t, "ip", "-n", p.A, "link", "set", p.DevA, "mtu", "1100")
	tx := connIn(t, p.A, netip.AddrPortFrom(p.AddrA, 0), Config{DisableGSO: true})
	var serr error
	if err := tx.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	}); err != nil || serr != nil {
		t.Fatalf("IP_MTU_DISCOVER: %v %v", err, serr)
	}
	rx := listenIn(t, p.B, netip.AddrPortFrom(p.AddrB, 0))
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1000}, 0, 10, gso.Data)
	enqueue(t, q, datagram{dst: netip.AddrPortFrom(p.AddrB, 9), size: 1200}, 10, 1, gso.Data)

	n, err := tx.Send(q.Peek(make([]*gso.Batch, 0, 16)))

	if n != 10 || !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("Send = %d, %v; want the 10 small datagrams taken, then ErrMessageTooLarge", n, err)
	}
	checkSequence(t, readPlain(t, rx, 10), 0, 1000)
}

func TestAFullSendBufferBlocksLosesNothingAndShowsInUnsentBytes(t *testing.T) {
	p := newVethPair(t)
	// A slow qdisc keeps datagrams charged to the sender's socket until
	// they leave, so a small send buffer fills for real.
	run(t, "tc", "-n", p.A, "qdisc", "add", "dev", p.DevA, "root", "tbf",
		"rate", "20mbit", "burst", "20kb", "limit", "4mb")
	uc := listenIn(t, p.A, netip.AddrPortFrom(p.AddrA, 0))
	uc.SetWriteBuffer(1)                            // the kernel rounds up to its minimum
	tx, err := New(uc, Config{SendBufferBytes: -1}) // keep it small
	if err != nil {
		t.Fatal(err)
	}
	rx := listenIn(t, p.B, netip.AddrPortFrom(p.AddrB, 0))
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 300, gso.Data)

	n, err := tx.Send(q.Peek(make([]*gso.Batch, 0, 16)))
	queued, qerr := tx.UnsentBytes()
	if aerr := q.Advance(n); aerr != nil {
		t.Fatal(aerr)
	}
	flush(t, q, tx)

	if n == 0 || n >= 300 || err == nil {
		t.Fatalf("first Send = %d, %v; want part taken, then ErrWouldBlock", n, err)
	}
	if qerr != nil || queued == 0 {
		t.Errorf("while blocked: UnsentBytes = %d, %v; want bytes queued", queued, qerr)
	}
	checkSequence(t, readPlain(t, rx, 300), 0, 1200)
	if st := tx.Stats(); st.WouldBlock == 0 {
		t.Errorf("never blocked: %+v", st)
	}
}
