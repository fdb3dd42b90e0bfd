package node

import (
	"net/netip"
	"testing"
	"time"
)

// rebindsFollowed is more NAT rebinds of the peer than the default
// MaxRemoteCandidates (32): each one brings a new peer-reflexive address.
const rebindsFollowed = 40

// A peer whose NAT rebinds again and again, nothing signalled, is followed
// every time with the default configuration: the addresses it left are
// forgotten with their pairs and data routes, so neither the remote
// candidates nor the routes grow with the rebinds, the candidate limit is
// never reached, and data from an address the peer left is a counted drop.
func TestRepeatedRebindsOfThePeerAreFollowedWithBoundedState(t *testing.T) {
	for _, roles := range roleSets {
		h := newRoamNet(t, 3, [2][]netip.AddrPort{{roamA1}, {roamB1}}, true)
		h.connect(roles)
		h.runFor(10 * time.Second)
		a := h.nodes[0]
		first := h.path(0).Dst()
		for i := range rebindsFollowed {
			before := len(h.arrivals[0])
			h.rebind()
			h.runFor(30 * time.Second)
			if f := h.failures(); len(f) != 0 {
				t.Fatalf("%v: rebind %d: failures %v", roles, i, f)
			}
			if got := len(h.arrivals[0]) - before; got == 0 {
				t.Fatalf("%v: rebind %d: no data reached a", roles, i)
			}
			c := a.conns[connID]
			// The peer's current address, and at most one it is leaving.
			if n := len(c.agent.Remotes()); n > 3 {
				t.Fatalf("%v: rebind %d: a holds %d remote candidates: %v", roles, i, n, c.agent.Remotes())
			}
			if n := len(c.routes); n > 3 {
				t.Fatalf("%v: rebind %d: a holds %d routes: %v", roles, i, n, c.routes)
			}
		}
		st, _ := a.ConnStats(connID)
		if st.ICE.Roams < rebindsFollowed {
			t.Errorf("%v: %d roams for %d rebinds", roles, st.ICE.Roams, rebindsFollowed)
		}
		if st.ICE.RemotesForgotten == 0 {
			t.Errorf("%v: no remote candidate counted forgotten", roles)
		}
		drops := a.Stats().Drops(DropUnknownPath)
		if _, _, ok := a.HandleDatagram(h.now, roamA1, first, []byte("stale")); ok {
			t.Errorf("%v: data from %v, which the peer left, was delivered", roles, first)
		}
		if a.Stats().Drops(DropUnknownPath) != drops+1 {
			t.Errorf("%v: data from %v, which the peer left, was not counted as an unknown path", roles, first)
		}
	}
}
