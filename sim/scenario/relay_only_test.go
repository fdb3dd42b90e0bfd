package scenario

import (
	"strings"
	"testing"
)

func TestPeersBehindSymmetricNATsConnectThroughTheRelayAndStayUp(t *testing.T) {
	sc, _ := Lookup("relay-only")
	res, err := Run(sc.Build(Options{Seed: 5}))
	if err != nil {
		t.Fatal(err)
	}
	connected := [2]bool{}
	for _, c := range res.Timeline {
		if c.Failed {
			t.Fatalf("%v", c)
		}
		if !strings.Contains(c.Event, "relay") {
			t.Fatalf("side %d on a path without the relay: %v", c.Side, c)
		}
		connected[c.Side] = true
	}
	if !connected[0] || !connected[1] || res.Peers[1].ReceivedDatagrams < 5000 {
		t.Fatalf("connected %v, bob received %d datagrams; timeline %v", connected, res.Peers[1].ReceivedDatagrams, res.Timeline)
	}
}
