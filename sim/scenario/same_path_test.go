package scenario

import (
	"testing"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// samePath reports whether a (one side's path) and b (the other's) are one
// path seen from its two ends, as far as the addresses tell behind NATs:
// a relayed address at one end of either is the other's address at that
// end, and two paths without one are both direct.
func samePath(a, b node.Path) bool {
	relayed := func(c node.Candidate) bool { return c.Type == stunmsg.Relay }
	switch {
	case relayed(a.Local) && b.Remote.Addr != a.Local.Addr,
		relayed(b.Local) && a.Remote.Addr != b.Local.Addr,
		relayed(a.Remote) && !(relayed(b.Local) && b.Local.Addr == a.Remote.Addr),
		relayed(b.Remote) && !(relayed(a.Local) && a.Local.Addr == b.Remote.Addr):
		return false
	}
	return true
}

// A failover moves both sides onto one path. The saturated-cut world
// fails over once its links are cut (the relayed pairs still answer for a
// few seconds through the queues), and the relay-restart world moves onto
// the new allocations. Each side ranked a pair from its host base while
// the peer knew that end as reflexive: alice went to bob's relayed
// address and bob to alice's, two paths through two allocations (2.5 s
// apart after the restart). Both now rank a pair from the candidates the
// controlling side sees (iceagent's valid.go); without the Node handing its
// server-reflexive candidates to the agent, saturated-cut splits again.
func TestAFailoverTakesBothSidesOntoOnePath(t *testing.T) {
	for _, name := range []string{"saturated-cut", "relay-restart"} {
		sc, _ := Lookup(name)
		for _, seed := range []uint64{1, 2, 3} {
			res, err := Run(sc.Build(Options{Seed: seed}))
			if err != nil {
				t.Fatal(err)
			}
			// Each side's path just before the first failure, if any.
			var last [2]*node.Path
			for _, c := range res.Timeline {
				if c.Failed {
					break
				}
				if c.NewPath {
					last[c.Side] = &c.Path
				}
			}
			if last[0] == nil || last[1] == nil || !samePath(*last[0], *last[1]) {
				t.Errorf("%s seed %d: the sides end on different paths; timeline %v", name, seed, res.Timeline)
			}
		}
	}
}
