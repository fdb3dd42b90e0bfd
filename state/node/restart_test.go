package node

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// restartICE runs the signalling of an ICE restart that side i starts,
// exchanging the new credentials at once, and returns both sides' new
// ones.
func (h *roamNet) restartICE(i int) [2]Credentials {
	h.t.Helper()
	var creds [2]Credentials
	var err error
	if creds[i], err = h.nodes[i].RestartICE(h.now, connID, Credentials{}); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
	if creds[1-i], err = h.nodes[1-i].RestartICE(h.now, connID, creds[i]); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
	if again, err := h.nodes[i].RestartICE(h.now, connID, creds[1-i]); err != nil || again != creds[i] {
		h.t.Fatalf("the initiator's credentials changed from %v to %v (%v)", creds[i], again, err)
	}
	h.drain()
	return creds
}

// count counts side i's events since index from whose text contains s.
func (h *roamNet) count(i, from int, s string) int {
	n := 0
	for _, e := range h.events[i][from:] {
		if strings.Contains(e.String(), s) {
			n++
		}
	}
	return n
}

// An ICE restart started by either side keeps the data flowing: the old
// agent's path carries it while the new credentials are checked, and the
// new agent's first selected pair takes over with PathChanged (never
// Connected, never Failed). Delivery never stops for more than a few data
// ticks, and afterwards both sides use the new credentials only.
func TestAnICERestartKeepsTheDataFlowing(t *testing.T) {
	for _, roles := range roleSets {
		for starter := range 2 {
			h := newRoamNet(t, 11, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
			h.connect(roles)
			h.runFor(10 * time.Second)
			before := [2]int{len(h.events[0]), len(h.events[1])}
			change := h.now
			creds := h.restartICE(starter)
			h.runFor(10 * time.Second)
			if f := h.failures(); len(f) != 0 {
				t.Fatalf("%v, %s starts: failures %v", roles, names[starter], f)
			}
			for i, n := range h.nodes {
				if got, _ := n.LocalCredentials(connID); got != creds[i] {
					t.Errorf("%v, %s starts: %s uses %v, want %v", roles, names[i], names[i], got, creds[i])
				}
				if h.count(i, before[i], "path-changed") == 0 || h.count(i, before[i], "connected") != 0 {
					t.Errorf("%v, %s starts: %s's events %v, want a path change and no Connected", roles, names[starter], names[i], h.events[i][before[i]:])
				}
				if c := n.conns[connID]; c.prev != nil || n.Stats().Restarts != 1 {
					t.Errorf("%v, %s starts: %s still holds its old agent (%v), %d restarts", roles, names[starter], names[i], c.prev != nil, n.Stats().Restarts)
				}
				g := h.gap(i, change)
				t.Logf("%v, %s starts: %s's longest gap %v", roles, names[starter], names[i], g)
				if g > 3*h.tick+h.rtt() {
					t.Errorf("%v, %s starts: %s's delivery stopped for %v", roles, names[starter], names[i], g)
				}
			}
		}
	}
}

// A restart whose checks all fail (here every check that names a new
// ufrag is lost) is dropped: the connection stays on the agent it had,
// with its credentials, and nothing fails.
func TestARestartWhoseChecksFailLeavesTheConnectionAsItWas(t *testing.T) {
	h := newRoamNet(t, 12, [2][]netip.AddrPort{{roamA1}, {roamB1}}, false)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(10 * time.Second)
	old := [2]Credentials{}
	for i, n := range h.nodes {
		old[i], _ = n.LocalCredentials(connID)
	}
	var fresh [2]Credentials
	h.drop = func(p packet) bool {
		var m stun.Message
		if stunmsg.Decode(p.b, &m) != nil || !stunmsg.IsBindingRequest(&m) {
			return false
		}
		u, _ := stunmsg.Username(&m)
		return fresh[0].Ufrag != "" && (strings.Contains(u, fresh[0].Ufrag) || strings.Contains(u, fresh[1].Ufrag))
	}
	change := h.now
	fresh = h.restartICE(0)
	h.runFor(40 * time.Second)
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	for i, n := range h.nodes {
		if got, _ := n.LocalCredentials(connID); got != old[i] {
			t.Errorf("%s uses %v, want its old %v", names[i], got, old[i])
		}
		if s := n.Stats(); s.Restarts != 1 || s.RestartsFailed != 1 {
			t.Errorf("%s: %d restarts, %d failed; want 1 and 1", names[i], s.Restarts, s.RestartsFailed)
		}
		if g := h.gap(i, change); g > 3*h.tick+h.rtt() {
			t.Errorf("%s's delivery stopped for %v", names[i], g)
		}
	}
}

// The old agent that loses its path during a restart and recovers it
// (here a's first address goes while the new agent's checks are all lost)
// carries the data again: what Send buffered since goes out, and once the
// restart is dropped the connection is the old agent's, connected, not
// buffering for ever without a word.
func TestTheOldAgentRecoveringDuringARestartCarriesTheDataAgain(t *testing.T) {
	h := newRoamNet(t, 12, [2][]netip.AddrPort{{roamA1, roamA2}, {roamB1}}, false)
	blockA2 := true // a's second address is unreachable until the restart
	var fresh [2]Credentials
	h.drop = func(p packet) bool {
		if blockA2 && (p.src == roamA2 || p.dst == roamA2) {
			return true
		}
		var m stun.Message
		if stunmsg.Decode(p.b, &m) != nil || !stunmsg.IsBindingRequest(&m) {
			return false
		}
		u, _ := stunmsg.Username(&m)
		return fresh[0].Ufrag != "" && (strings.Contains(u, fresh[0].Ufrag) || strings.Contains(u, fresh[1].Ufrag))
	}
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(40 * time.Second)
	if p := h.path(0); p.Src() != roamA1 {
		t.Fatalf("a's path %v, want it from %v", p, roamA1)
	}
	fresh = h.restartICE(0)
	h.runFor(time.Second)
	blockA2 = false
	h.remove(0, roamA1)
	h.runFor(90 * time.Second)
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	n := h.nodes[0]
	if s := n.Stats(); s.RestartsFailed != 1 {
		t.Fatalf("a: %d restarts failed, want the restart dropped", s.RestartsFailed)
	}
	if p := h.path(0); p.Src() != roamA2 {
		t.Fatalf("a's path %v, want the old agent's recovered one from %v", p, roamA2)
	}
	c := n.conns[connID]
	if !c.connected || len(c.pending) != 0 {
		t.Errorf("a has a path but connected=%v with %d payloads buffered", c.connected, len(c.pending))
	}
	since := h.now
	h.runFor(5 * time.Second)
	if g := h.gap(1, since); g > 3*h.tick+h.rtt() {
		t.Errorf("b received nothing from a for %v", g)
	}
}

// An ICE restart gives the new agent the server-reflexive candidates as
// Connect gives the first one, beside signalling them again: a check whose
// answer names one ranks its pair as the peer ranks it, not as peer
// reflexive.
func TestARestartGivesTheNewAgentTheServerReflexiveCandidates(t *testing.T) {
	cfg := Config{StunServers: []netip.AddrPort{roamStun}}
	h := newRoamNetConfig(t, 6, [2][]netip.AddrPort{{roamA1}, {roamB1}}, true, cfg)
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(10 * time.Second)
	srflx, _ := h.srflxEvents(1, 0)
	if len(srflx) != 1 {
		t.Fatalf("b gathered %v, want one server-reflexive candidate", srflx)
	}
	before := len(h.events[1])
	h.restartICE(0)
	if again, _ := h.srflxEvents(1, before); len(again) != 1 || again[0] != srflx[0] {
		t.Fatalf("b signalled %v again on the restart, want %v", again, srflx)
	}
	if got := h.nodes[1].conns[connID].agent.Reflexive(); len(got) != 1 || got[0] != srflx[0] {
		t.Fatalf("b's new agent knows %v, want %v", got, srflx)
	}
	h.runFor(10 * time.Second)
	if f := h.failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
}
