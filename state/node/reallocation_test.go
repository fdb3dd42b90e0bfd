package node

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/turn"
)

// refreshEvery is the allocation refresh period in these tests: short, so
// that a server that forgot an allocation answers a Refresh with 437 well
// within the 15 s probe timeout of the path through it.
const refreshEvery = 10 * time.Second

// newReallocPair is a pair harness whose direct path is blocked and whose
// nodes i with relay[i] use the harness relay, refreshing every
// refreshEvery.
func newReallocPair(t *testing.T, seed uint64, relay [2]bool) *pairHarness {
	cfg := fastRelay
	cfg.RefreshAfter = refreshEvery
	return newRelayOnlyPair(t, seed, relay, cfg)
}

// newRelayOnlyPair is a pair harness whose direct path is blocked, with
// the relay (on the TURN timers cfg) on the sides relay selects.
func newRelayOnlyPair(t *testing.T, seed uint64, relay [2]bool, cfg turn.Config) *pairHarness {
	h := newPairHarness(t, seed, ice.Config{})
	for _, n := range h.nodes {
		n.cfg.Relay = cfg.WithDefaults()
	}
	h.blockDirect = true
	h.withRelay()
	for i, n := range h.nodes {
		if !relay[i] {
			// Forgotten at once: it has no allocation yet.
			if err := n.RemoveRelay(h.now, relayAddr); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.drain()
	h.quiet = true
	return h
}

// restartRelay replaces the TURN server by a fresh one at the same address:
// every allocation, permission and channel is forgotten, and what was sent
// to the old relayed addresses is dropped. The clients learn it from the
// 437 to their next Refresh.
func (h *pairHarness) restartRelay() {
	cfg := turnserver.Config{
		Realm: "test", Users: []turnserver.Credential{{Username: relayUser, Password: relayPassword}},
		RelayAddr: relayIP, Rand: rand.New(rand.NewPCG(8, 8)),
	}
	if h.restartTweak != nil {
		h.restartTweak(&cfg)
	}
	srv, err := turnserver.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.relay = srv
	h.logf("relay restarted")
}

// eventsAfter returns node i's events from the k-th on, as text.
func (h *pairHarness) eventsAfter(i, k int) []string {
	var out []string
	for _, e := range h.events[i][k:] {
		out = append(out, e.String())
	}
	return out
}

// runUntilNoPath steps until a node has lost its path, within d.
func (h *pairHarness) runUntilNoPath(d time.Duration) bool {
	end := h.now.Add(d)
	for h.now.Before(end) && h.connected(0) && h.connected(1) {
		if !h.step() {
			return false
		}
	}
	return !h.connected(0) || !h.connected(1)
}

// relayLayouts are the relay-only connections the re-allocation tests run:
// the relay on both sides, or on one side in either role.
var relayLayouts = []struct {
	name  string
	relay [2]bool
	roles [2]Role
}{
	{"relays on both sides", [2]bool{true, true}, [2]Role{Controlling, Controlled}},
	{"relay on the controlling side", [2]bool{true, false}, [2]Role{Controlling, Controlled}},
	{"relay on the controlled side", [2]bool{true, false}, [2]Role{Controlled, Controlling}},
}

// The server forgets every allocation (a restart). With relays on both
// sides, every relayed pair dies and each side loses its path both ways:
// its own relay candidate withdrawn and the peer's. With a relay on one
// side only, the other side is the peer that sees the candidate of its
// path withdrawn and has nothing of its own to offer; in either role it
// must wait for the new candidate rather than fail.
func TestARelayOnlyConnectionSurvivesTheServerForgettingItsAllocations(t *testing.T) {
	for _, tc := range relayLayouts {
		t.Run(tc.name, func(t *testing.T) {
			h := newReallocPair(t, 20, tc.relay)
			h.connect(tc.roles)
			h.runFor(3 * time.Second)
			h.mustConnect()
			h.carriedOver()
		})
	}
}

// carriedOver restarts the relay under a connected pair and checks that the
// connection moves to the new allocation without failing, delivering what
// was sent while a side had no path.
func (h *pairHarness) carriedOver() {
	t := h.t
	var before [2]int
	oldPath := [2]Path{}
	for i, n := range h.nodes {
		before[i] = len(h.events[i])
		oldPath[i], _ = n.Path(connID)
	}
	h.restartRelay()
	// Each client's next Refresh (10 s after its allocation) gets 437,
	// withdraws the relay candidate and allocates afresh.
	if !h.runUntilNoPath(refreshEvery) {
		t.Fatalf("no path was lost:\n%s", strings.Join(h.log, "\n"))
	}
	// Data sent while a side has no path waits for the new one. A
	// controlled side may have moved to another pair instead (it cannot
	// nominate, see iceagent's afterRemoval); what it sends there may be lost.
	var pathless [2]bool
	for i, n := range h.nodes {
		_, ok := n.Path(connID)
		pathless[i] = !ok
	}
	h.send(0, 3, 100)
	h.send(1, 3, 100)
	gap := h.received
	h.runFor(5 * time.Second)
	for i, n := range h.nodes {
		evs := h.eventsAfter(i, before[i])
		p, ok := n.Path(connID)
		if !ok || !throughRelay(p) || p == oldPath[i] {
			t.Fatalf("%s: path %v (%v), want a new relayed one; events %q\n%s", names[i], p, ok, evs, strings.Join(h.log, "\n"))
		}
		changed := 0
		for _, e := range evs {
			switch {
			case strings.Contains(e, " failed "), strings.Contains(e, " connected "):
				t.Fatalf("%s: %q after the server forgot the allocations", names[i], e)
			case strings.Contains(e, " path-changed "):
				changed++
			}
		}
		if changed == 0 {
			t.Fatalf("%s: no PathChanged; events %q", names[i], evs)
		}
	}
	for i := range h.nodes {
		if got := h.received[1-i] - gap[1-i]; pathless[i] && got != 3 {
			t.Fatalf("%s received %d of the 3 %s sent without a path", names[1-i], got, names[i])
		}
	}
	// The new path carries data and stays up.
	h.send(0, 50, 500)
	h.send(1, 50, 500)
	h.runFor(30 * time.Second)
	h.mustConnect()
	for i := range h.nodes {
		if got, want := h.received[1-i]-gap[1-i], 50+3*btoi(pathless[i]); got < want {
			t.Fatalf("%s received %d from %s, want at least %d", names[1-i], got, names[i], want)
		}
	}
	// Each allocation was re-made once: at once where a path used it, at
	// the next Refresh where none did.
	for i, n := range h.nodes {
		if st, ok := n.RelayStats(relayAddr); ok && st.Client.Reallocations != 1 {
			t.Fatalf("%s: %d reallocations, want 1", names[i], st.Client.Reallocations)
		}
	}
}

func TestARelayOnlyConnectionWhoseRelayNeverComesBackFailsWithRelayLostWithinTheProbeTimeout(t *testing.T) {
	h := newReallocPair(t, 21, [2]bool{true, true})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	var before [2]int
	for i := range h.nodes {
		before[i] = len(h.events[i])
	}
	h.restartRelay()
	// The server forgets the allocations, answers the Refresh with 437,
	// and then dies: the new Allocate goes unanswered.
	if !h.runUntilNoPath(refreshEvery) {
		t.Fatalf("no path was lost:\n%s", strings.Join(h.log, "\n"))
	}
	h.relayDown = true
	h.runFor(ice.DefaultConfig().ProbeTimeout)
	for i, n := range h.nodes {
		evs := h.eventsAfter(i, before[i])
		var failed []Failed
		for _, e := range h.events[i][before[i]:] {
			if f, ok := e.(Failed); ok {
				failed = append(failed, f)
			}
		}
		if len(failed) != 1 || failed[0].Reason != RelayLost {
			t.Fatalf("%s: failures %v, want one RelayLost; events %q", names[i], failed, evs)
		}
		line, _ := h.find(names[i] + " event conn 1 failed")
		st, _ := n.ConnStats(connID)
		bound := st.ICE.LastAnswerAt.Add(ice.DefaultConfig().ProbeTimeout)
		if at := parseTS(t, line); at.After(bound) {
			t.Fatalf("%s: failed at %v, later than ProbeTimeout after the last answer (%v)",
				names[i], at.Sub(epoch), bound.Sub(epoch))
		}
		if _, ok := h.find(names[i] + " event relay-lost"); !ok {
			t.Fatalf("%s: no relay-lost event", names[i])
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close gives back the permissions and channels a connection asked for
// even when its relay re-allocated under it: the client asks for them
// again on the new allocation, so the Node's counts must outlive the
// re-allocation, or nothing releases them and they are refreshed for
// ever, holding MaxPermissions and MaxChannels. Here the connection closes
// before its relayed path came back.
func TestClosingAfterARelayReallocationStopsItsPermissionAndChannelRefreshes(t *testing.T) {
	h := newReallocPair(t, 20, [2]bool{true, true})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	h.restartRelay()
	if !h.runUntilNoPath(refreshEvery) {
		t.Fatal("no path lost: the relay's restart went unnoticed")
	}
	reallocated := 0
	for i := range h.nodes {
		st, _ := h.nodes[i].RelayStats(relayAddr)
		reallocated += int(st.Client.Reallocations)
		if err := h.nodes[i].Close(h.now, connID); err != nil {
			t.Fatal(err)
		}
	}
	if reallocated == 0 {
		t.Fatal("no re-allocation before Close: the test tests nothing")
	}
	h.runFor(time.Second)
	var before [2]RelayStats
	for i := range h.nodes {
		before[i], _ = h.nodes[i].RelayStats(relayAddr)
	}
	h.runFor(30 * time.Minute)
	for i := range h.nodes {
		st, ok := h.nodes[i].RelayStats(relayAddr)
		if !ok || st.State != turn.StateAllocated {
			t.Fatalf("node %d: relay %v %v, want still allocated", i, ok, st.State)
		}
		if st.Client.ChannelRefreshes != before[i].Client.ChannelRefreshes ||
			st.Client.PermissionRefreshes != before[i].Client.PermissionRefreshes {
			t.Errorf("node %d: 30 min after Close, channel refreshes %d -> %d, permission refreshes %d -> %d: the closed connection's are still kept",
				i, before[i].Client.ChannelRefreshes, st.Client.ChannelRefreshes,
				before[i].Client.PermissionRefreshes, st.Client.PermissionRefreshes)
		}
	}
}

// A connection whose relay is between allocations moves to another relay
// the moment one is granted (repickRelays); what it asked its old relay
// for, kept through the re-allocation, is given back there, so the old
// relay's client stops refreshing it.
func TestAConnectionMovedOffAReallocatingRelayGivesBackWhatItAskedThere(t *testing.T) {
	h := newReallocPair(t, 20, [2]bool{true, true})
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	n := h.nodes[0]
	old := n.conns[connID].relay
	if len(old.perms) == 0 || len(n.conns[connID].permIPs) == 0 {
		t.Fatal("no permission asked for: the test tests nothing")
	}
	// The old relay's allocation is withdrawn, its client about to
	// allocate again; another relay is granted meanwhile.
	n.withdrawRelay(old)
	other := netip.MustParseAddrPort("10.0.0.10:3478")
	client, err := turn.New(h.now, turn.Identity{Server: other, Local: h.addrs[0], Username: relayUser,
		Password: relayPassword, Rand: rand.New(rand.NewPCG(3, 3))}, turn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	granted := &relay{id: 99, server: other, local: h.addrs[0], client: client,
		perms: map[netip.Addr]int{}, chans: map[netip.AddrPort]int{},
		cand: Candidate{Addr: netip.MustParseAddrPort("10.0.0.10:50000"), Base: netip.MustParseAddrPort("10.0.0.10:50000")}}
	n.relays = append(n.relays, granted)
	n.repickRelays()
	c := n.conns[connID]
	if c.relay != granted {
		t.Fatalf("the connection stayed on its re-allocating relay")
	}
	if len(old.perms) != 0 || len(old.chans) != 0 || len(c.permIPs) != 0 || c.channel.IsValid() {
		t.Fatalf("after the move: old relay counts %v %v, connection's %v %v; want all given back",
			old.perms, old.chans, c.permIPs, c.channel)
	}
}
