package scenario

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
)

// The roam scenario's three changes: bob's NAT rebinds, alice's uplink
// fails over to a second ISP, bob moves to another network and tells his
// Node (MoveLocalAddress). The connection follows each without a Failed,
// and the longest gap in either side's delivery after each stays within
// the bound: one probe interval plus two round trips when the
// program signals the change, and, when it does not, one probe interval
// plus ProbeLossAfter (the probe timeout is five times that). Before the
// roaming rules the connection sat on the dead pair until the failover to
// the relay, SwitchAfter (7.5 s) later.
func TestTheConnectionFollowsEveryNetworkChangeOfTheRoamScenario(t *testing.T) {
	cfg := ice.DefaultConfig()
	// The round trip between the peers: four access links of 15 ms and
	// up to 2 ms of jitter each.
	const rtt = 4 * 17 * time.Millisecond
	sc, _ := Lookup("roam")
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		res, err := Run(sc.Build(Options{Seed: seed}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Timeline {
			if c.Failed {
				t.Errorf("seed %d: %v", seed, c)
			}
		}
		for _, c := range res.NetChanges {
			bound := cfg.ProbeInterval + cfg.ProbeLossAfter
			if c.Kind.Signalled() {
				bound = cfg.ProbeInterval + 2*rtt
			}
			for i := range res.Peers {
				if !c.Healed[i] || c.Gap[i] > bound {
					t.Errorf("seed %d: %s of peer %d at %v: side %d's gap %v (healed %v), want at most %v",
						seed, c.Kind, c.Peer, c.At, i, c.Gap[i], c.Healed[i], bound)
				}
			}
		}
	}
}

// A change is validated: a peer behind no NAT has none to rebind, and each
// peer has one other network to move to.
func TestNetworkChangesAreValidated(t *testing.T) {
	sc, _ := Lookup("roam")
	bad := []func(s *Spec){
		func(s *Spec) { s.Peers[1].NAT = nil },
		func(s *Spec) { s.Changes = append(s.Changes, NetChange{At: time.Minute, Peer: 1, Kind: Move}) },
		func(s *Spec) { s.Changes[0].At = s.End },
		func(s *Spec) { s.Changes[0].Kind = NumNetChangeKinds },
	}
	for i, mutate := range bad {
		s := sc.Build(Options{Seed: 1})
		mutate(&s)
		if s.Validate() == nil {
			t.Errorf("mutation %d validated", i)
		}
	}
}
