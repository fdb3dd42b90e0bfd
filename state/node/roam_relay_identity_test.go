package node

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// relayTransmitsAfterMove adds a relay on server from `from` with opts,
// moves from to `to`, and returns the transmits the Node then has toward
// server or alt.
func relayTransmitsAfterMove(t *testing.T, server, alt, from, to netip.AddrPort, opts ...RelayOption) []Transmit {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	n, err := New(Config{Rand: rand.New(rand.NewPCG(3, 4))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.AddLocalAddress(now, from); err != nil {
		t.Fatal(err)
	}
	if err := n.AddRelay(now, server, from, "u", "p", opts...); err != nil {
		t.Fatal(err)
	}
	for _, ok := n.PollTransmit(); ok; _, ok = n.PollTransmit() {
	}
	if err := n.MoveLocalAddress(now, from, to); err != nil {
		t.Fatal(err)
	}
	var got []Transmit
	for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
		if tx.Dst == server || tx.Dst == alt {
			got = append(got, tx)
		}
	}
	if len(got) == 0 {
		t.Fatal("after the move the relay sent nothing to its server")
	}
	return got
}

// A relay reached over TCP stays on TCP when its local address moves: on a
// network that blocks UDP, a move that fell back to UDP would lose the
// relay at every roam.
func TestMovingARelaysAddressKeepsItsTransport(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.10:3478")
	from, to := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:5000")
	for _, tx := range relayTransmitsAfterMove(t, server, netip.AddrPort{}, from, to, WithTransport(TCP)) {
		if tx.Transport != TCP || tx.Src != to {
			t.Fatalf("after the move a transmit to the relay leaves from %v over %v; want %v over TCP", tx.Src, tx.Transport, to)
		}
	}
}

// A relay whose server and alternate are both reached from the moved
// address reaches both from the new one: nothing is left on the removed
// address.
func TestMovingARelaysAddressMovesItsAlternateToo(t *testing.T) {
	server, alt := netip.MustParseAddrPort("192.0.2.10:3478"), netip.MustParseAddrPort("192.0.2.11:3478")
	from, to := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:5000")
	got := relayTransmitsAfterMove(t, server, alt, from, to, WithAlternate(alt, from))
	toAlt := false
	for _, tx := range got {
		if tx.Src != to {
			t.Fatalf("after the move a transmit to %v leaves from %v; want %v", tx.Dst, tx.Src, to)
		}
		toAlt = toAlt || tx.Dst == alt
	}
	if !toAlt {
		t.Fatal("after the move the relay no longer races its alternate")
	}
}
