//go:build linux

package turn_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// pion/turn restarts (every allocation forgotten, and it answers no
// Refresh for one it lost), and a verification's probe reaches it and is
// granted a new allocation on the same 5-tuple, but nftables drops every
// Allocate success answer on its way back. Once the loss ends, the next
// verification's probe goes with the lost one's transaction ID, which
// pion answers from its response cache with that grant, past RFC 8656's
// 40 s transaction lifetime too: the client moves
// to the new relayed address. A fresh ID would meet 437 there and the
// client would advertise the dead address for good. (coturn answers a
// Refresh for a lost allocation with 437, which re-allocates before this
// can happen.)
func TestPionGrantOfALostProbeIsLearnedAtTheNextVerification(t *testing.T) {
	ns := lossyNamespace(t)
	t.Parallel()
	srv := realturn.Pion(t, realturn.PionConfig{Netns: ns})
	conn, err := realturn.ListenUDPIn(ns, netip.AddrPortFrom(srv.Addr.Addr(), 0)) // loopback inside ns
	if err != nil {
		t.Fatal(err)
	}
	r := startRunnerOn(t, testConfig(srv.Addr, realturn.User, realturn.Password), conn)
	first := r.waitEvent(turn.EventAllocated, 5*time.Second)

	nft(t, ns, fmt.Sprintf(`table inet plloss {
	chain in {
		type filter hook input priority 0; policy accept;
		udp sport %d @th,64,16 0x0103 counter drop
	}
}`, srv.Addr.Port()))
	srv.Restart()
	// verify asks until the client verifies: the verification's Refresh
	// may succeed on the probe's allocation, which reads as alive and
	// doubles the wait before the next one.
	verify := func() {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			var sent bool
			_ = r.do(func(c *turn.Client, now time.Time) error {
				sent = c.Verify(now)
				return nil
			})
			if sent {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no verification within 30 s; stats %+v", r.stats())
			}
		}
	}
	verify()
	verified := time.Now()
	time.Sleep(6 * time.Second) // the probe's schedule gives up at 4.5 s
	s := r.stats()
	dropped := nftCounter(t, ns)
	t.Logf("after the lost grant: %d probes, %d unanswered, relayed still %v; nft: %s", s.Probes, s.ProbesUnanswered, first.Relayed, dropped)
	if s.ProbesUnanswered == 0 || dropped == "counter packets 0 bytes 0" {
		t.Fatalf("no probe grant was lost (stats %+v, nft %s): the test tests nothing", s, dropped)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "plloss").CombinedOutput(); err != nil {
		t.Fatalf("nft delete: %v\n%s", err, out)
	}
	// Past RFC 8656's 40 s transaction lifetime: pion keeps the grant for
	// the allocation's life.
	time.Sleep(time.Until(verified.Add(41 * time.Second)))
	verify()
	e := r.waitEvent(turn.EventAllocated, 5*time.Second)
	if e.Relayed == first.Relayed {
		t.Fatalf("allocated %v again, want the probe's new relayed address", e.Relayed)
	}
	t.Logf("moved from %v to %v; stats %+v", first.Relayed, e.Relayed, r.stats())
}
