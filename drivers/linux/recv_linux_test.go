package linux

import (
	"net/netip"
	"testing"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

func TestGROCoalescesASegmentedSendAndDatagramsSplitsItBack(t *testing.T) {
	for _, lb := range loopbacks {
		t.Run(lb.name, func(t *testing.T) {
			tx := newConn(t, lb.network, lb.addr, Config{})
			rx := newConn(t, lb.network, lb.addr, Config{})
			if tx.Caps().MaxSegments < 2 || !rx.GRO() {
				t.Skip("kernel without UDP_SEGMENT or UDP_GRO")
			}
			q := gso.New(gso.Config{Caps: tx.Caps()})
			// 40 full segments and a short tail: one batch, one super-datagram.
			enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 40, gso.Data)
			enqueue(t, q, datagram{dst: addrOf(rx), size: 500}, 40, 1, gso.Data)
			flush(t, q, tx)

			got := recvConn(t, rx, 41)

			bufs := make([][]byte, len(got))
			for i, r := range got {
				bufs[i] = r.b
			}
			checkSequence(t, bufs[:40], 0, 1200)
			checkSequence(t, bufs[40:], 40, 500)
			if got[0].segSize != 1200 {
				t.Errorf("first buffer's segment size %d, want 1200 (coalesced)", got[0].segSize)
			}
			if st := rx.Stats(); st.GROMessages == 0 || st.RecvDatagrams != 41 {
				t.Errorf("want coalesced buffers holding 41 datagrams, got %+v", st)
			}
		})
	}
}

func TestWithoutGROEveryBufferHoldsOneDatagram(t *testing.T) {
	tx := newConn(t, "udp4", "127.0.0.1:0", Config{})
	rx := newConn(t, "udp4", "127.0.0.1:0", Config{DisableGRO: true})
	q := gso.New(gso.Config{Caps: tx.Caps()})
	enqueue(t, q, datagram{dst: addrOf(rx), size: 1200}, 0, 20, gso.Data)
	flush(t, q, tx)

	got := recvConn(t, rx, 20)

	for i, r := range got {
		if r.segSize != 0 || len(r.b) != 1200 {
			t.Fatalf("datagram %d: %d bytes, segment size %d; want one 1200-byte datagram", i, len(r.b), r.segSize)
		}
	}
}

func TestTheDestinationAddressIsLearnedOnAWildcardSocket(t *testing.T) {
	for _, tc := range []struct{ name, network, bind, to string }{
		{"IPv4", "udp4", "0.0.0.0:0", "127.0.0.1"},
		{"IPv6", "udp6", "[::]:0", "::1"},
		{"IPv4 on dual-stack", "udp", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rx := newConn(t, tc.network, tc.bind, Config{})
			port := addrOf(rx).Port()
			to := netip.AddrPortFrom(netip.MustParseAddr(tc.to), port)
			tx := listen(t, "udp", "[::]:0")
			if _, err := tx.WriteToUDPAddrPort([]byte("where am I"), to); err != nil {
				t.Fatal(err)
			}

			got := recvConn(t, rx, 1)

			if got[0].dst != to {
				t.Errorf("Dst = %v, want %v", got[0].dst, to)
			}
			if want := netip.AddrPortFrom(to.Addr(), addrOf(tx).Port()); got[0].src != want {
				t.Errorf("Src = %v, want %v", got[0].src, want)
			}
		})
	}
}

func TestECNCodepointsRoundTrip(t *testing.T) {
	for _, lb := range loopbacks {
		t.Run(lb.name, func(t *testing.T) {
			tx := newConn(t, lb.network, lb.addr, Config{})
			rx := newConn(t, lb.network, lb.addr, Config{})
			q := gso.New(gso.Config{Caps: tx.Caps()})
			codepoints := []gso.ECN{gso.NotECT, gso.ECT0, gso.ECT1, gso.CE}
			for i, ecn := range codepoints {
				enqueue(t, q, datagram{dst: addrOf(rx), size: 100, ecn: ecn}, i, 1, gso.Data)
			}
			flush(t, q, tx)

			got := recvConn(t, rx, len(codepoints))

			for i, r := range got {
				if r.ecn != codepoints[i] {
					t.Errorf("datagram %d arrived with ECN %d, want %d", i, r.ecn, codepoints[i])
				}
			}
		})
	}
}

func TestATruncatedDatagramIsDroppedAndCounted(t *testing.T) {
	rx := newConn(t, "udp4", "127.0.0.1:0", Config{DisableGRO: true})
	tx := listen(t, "udp4", "127.0.0.1:0")
	tx.WriteToUDPAddrPort(payload(0, 2000), addrOf(rx))
	tx.WriteToUDPAddrPort(payload(1, 500), addrOf(rx))
	msgs := []pump.Message{{Buf: make([]byte, 1000)}, {Buf: make([]byte, 1000)}}
	rx.uc.SetReadDeadline(deadline())

	// Both may come in one call or two; the truncated one never comes.
	var got [][]byte
	for len(got) == 0 {
		n, err := rx.Recv(msgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs[:n] {
			got = append(got, m.Buf[:m.N])
		}
	}

	checkSequence(t, got, 1, 500)
	if st := rx.Stats(); st.Truncated != 1 {
		t.Errorf("Truncated = %d, want 1", st.Truncated)
	}
}

func TestRecvRejectsAnEmptyBuffer(t *testing.T) {
	rx := newConn(t, "udp4", "127.0.0.1:0", Config{})
	if _, err := rx.Recv([]pump.Message{{}}); err != ErrShortBuffer {
		t.Fatalf("Recv with no buffer: %v, want ErrShortBuffer", err)
	}
}

func TestADualStackSocketSendsToIPv4WithSourceAndECN(t *testing.T) {
	tx := newConn(t, "udp", "[::]:0", Config{})
	rx := newConn(t, "udp4", "127.0.0.1:0", Config{})
	q := gso.New(gso.Config{Caps: tx.Caps()})
	src := netip.MustParseAddrPort("127.0.0.2:0")
	enqueue(t, q, datagram{src: src, dst: addrOf(rx), size: 1200, ecn: gso.ECT0}, 0, 8, gso.Data)
	flush(t, q, tx)

	got := recvConn(t, rx, 8)

	for i, r := range got {
		if r.src.Addr() != src.Addr() || r.ecn != gso.ECT0 || len(r.b) != 1200 {
			t.Fatalf("datagram %d: from %v with ECN %d, %d bytes; want from 127.0.0.2, ECT(0), 1200 bytes",
				i, r.src, r.ecn, len(r.b))
		}
	}
}
