package scenario

import (
	"strings"
	"testing"
)

// Two relays, the far one added first: each side measures both round
// trips and carries the connection on the near relay only, and its
// RelayStats says so.
func TestWithANearAndAFarRelayTheConnectionUsesTheNearOne(t *testing.T) {
	sc, _ := Lookup("relay-choice")
	for _, seed := range []uint64{1, 2, 3} {
		res, err := Run(sc.Build(Options{Seed: seed}))
		if err != nil {
			t.Fatal(err)
		}
		near, far := relayAddr.String(), FarRelayAddr.String()
		for _, c := range res.Timeline {
			if c.Failed {
				t.Fatalf("seed %d: %v", seed, c)
			}
			if strings.Contains(c.Event, far) || !strings.Contains(c.Event, near) {
				t.Fatalf("seed %d: side %d on a path not through the near relay only: %v", seed, c.Side, c)
			}
		}
		for _, p := range res.Peers {
			for _, rs := range p.Relays {
				t.Logf("seed %d: %s: relay %v rtt %v conns %d", seed, p.Name, rs.Server, rs.RTT, rs.Conns)
				isFar := rs.Server.Addr() == FarRelayAddr
				if rs.RTT == 0 || isFar && rs.Conns != 0 || !isFar && rs.Conns != 1 {
					t.Fatalf("seed %d: %s: %+v: want the near relay used, both measured", seed, p.Name, rs)
				}
			}
		}
		if res.Peers[1].ReceivedDatagrams < 5000 {
			t.Fatalf("seed %d: bob received %d datagrams", seed, res.Peers[1].ReceivedDatagrams)
		}
	}
}
