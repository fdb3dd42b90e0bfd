package iceagent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// Two peers behind NATs that filter every direct packet, with one relay
// allocation each: the world the simulator found hopping (valid.go). a is
// behind a symmetric NAT, b behind an endpoint-independent one.
var (
	natHostA  = netip.MustParseAddrPort("192.168.1.2:1000")
	natRelayA = netip.MustParseAddrPort("192.0.2.10:50000")
	natSrflxA = netip.MustParseAddrPort("198.51.100.1:50578") // a's mapping toward the STUN server only
	natHostB  = netip.MustParseAddrPort("192.168.2.2:2000")
	natRelayB = netip.MustParseAddrPort("192.0.2.10:60000")
	natSrflxB = netip.MustParseAddrPort("198.51.100.2:5480") // b's mapping toward everyone
	// natMapA is a's mapping toward b's relayed address: b learns it as
	// peer reflexive.
	natMapA = netip.MustParseAddrPort("198.51.100.1:19178")
)

// natRoutes carries the two paths that exist: a's relayed address to b's
// host (through b's NAT, sB) and a's host (through its NAT, mA) to b's
// relayed address. The key is what the sender hands over (from its base to
// the address it knows), the value what the receiver sees (on its base,
// from the address it sees). Everything else is filtered.
var natRoutes = map[[2]netip.AddrPort][2]netip.AddrPort{
	{natRelayA, natSrflxB}: {natHostB, natRelayA},
	{natHostB, natRelayA}:  {natRelayA, natSrflxB},
	{natHostA, natRelayB}:  {natRelayB, natMapA},
	{natRelayB, natMapA}:   {natHostA, natRelayB},
}

func natAgents(t *testing.T) (a, b *Agent) {
	rng := rand.New(rand.NewPCG(3, 3))
	ca, cb := ice.NewCredentials(rng), ice.NewCredentials(rng)
	cfg := ice.Config{}.WithDefaults()
	a = New(t0, cfg, Params{Role: ice.Controlling, Local: ca, Remote: cb, TieBreaker: 2, TxTag: 1, Rand: rng})
	b = New(t0, cfg, Params{Role: ice.Controlled, Local: cb, Remote: ca, TieBreaker: 1, TxTag: 2, Rand: rng})
	srflx := func(addr, base netip.AddrPort) stunmsg.Candidate {
		return stunmsg.NewCandidate(stunmsg.ServerReflexive, addr, base, netip.AddrPort{}, 65535)
	}
	for _, s := range []struct {
		ag                 *Agent
		host, relayed, rfx netip.AddrPort
	}{{a, natHostA, natRelayA, natSrflxA}, {b, natHostB, natRelayB, natSrflxB}} {
		must(t, s.ag.AddLocalCandidate(t0, host(s.host)))
		must(t, s.ag.AddLocalCandidate(t0, relay(s.relayed)))
		must(t, s.ag.AddReflexiveCandidate(srflx(s.rfx, s.host)))
	}
	for _, s := range []struct {
		ag                 *Agent
		host, relayed, rfx netip.AddrPort
	}{{a, natHostB, natRelayB, natSrflxB}, {b, natHostA, natRelayA, natSrflxA}} {
		must(t, s.ag.AddRemoteCandidate(t0, host(s.host)))
		must(t, s.ag.AddRemoteCandidate(t0, relay(s.relayed)))
		must(t, s.ag.AddRemoteCandidate(t0, srflx(s.rfx, s.host)))
	}
	return a, b
}

// viaHostA: the path from a's host to b's relayed address, either way.
func viaHostA(src netip.AddrPort) bool { return src == natHostA || src == natRelayB }

// runNAT delivers between a and b through natRoutes, with no latency,
// until end, keeping both on active timing. The path from a's host opens
// only at opensAt (b's relay permission for a's mapping comes late), so a
// selects the other path first and upgrades later.
func runNAT(t *testing.T, a, b *Agent, opensAt, end time.Time) {
	now := t0
	for {
		for moved := true; moved; {
			moved = false
			for i, from := range []*Agent{a, b} {
				to := []*Agent{b, a}[i]
				for {
					tx, ok := from.PollTransmit()
					if !ok {
						break
					}
					moved = true
					if viaHostA(tx.Src) && now.Before(opensAt) {
						continue
					}
					if r, ok := natRoutes[[2]netip.AddrPort{tx.Src, tx.Dst}]; ok {
						deliver(t, now, to, Transmit{Src: r[1], Dst: r[0], Payload: tx.Payload})
					}
				}
				for _, ok := from.PollEvent(); ok; _, ok = from.PollEvent() {
				}
			}
		}
		da, _, oka := a.PollTimeout()
		db, _, okb := b.PollTimeout()
		next := minTime(da, db)
		if !oka || !okb || next.After(end) {
			return
		}
		now = maxTime(now, next)
		a.NotifyAppTraffic(now)
		b.NotifyAppTraffic(now)
		a.HandleTimeout(now)
		b.HandleTimeout(now)
	}
}

// The sides rank a pair from the same two candidates, as the controlling
// side sees them, so the controlled side follows the controlling side's
// choice. Before, b ranked its host end of the path to a's relayed address
// above the reflexive end a saw, a ranked its host end of the other path
// likewise: a moved to the other path, and b took the nomination for a
// stale one and stayed, both sides on different paths for good (each
// through a different allocation).
func TestBothSidesRankAPairAlikeWhenItsLocalEndIsBehindANAT(t *testing.T) {
	a, b := natAgents(t)
	runNAT(t, a, b, t0.Add(time.Second), t0.Add(20*time.Second))
	pa, oka := a.Selected()
	pb, okb := b.Selected()
	if !oka || !okb {
		t.Fatalf("not connected: a %v (%v), b %v (%v)", pa, oka, pb, okb)
	}
	// The path a uses, as b sees it.
	seen, ok := natRoutes[[2]netip.AddrPort{pa.Src(), pa.Dst()}]
	if !ok || pb.Src() != seen[0] || pb.Dst() != seen[1] {
		t.Fatalf("the sides use different paths: a %v, b %v", pa, pb)
	}
	for _, x := range []struct {
		ag                       *Agent
		viaHost, viaHostRemote   netip.AddrPort
		viaRelay, viaRelayRemote netip.AddrPort
	}{
		{a, natHostA, natRelayB, natRelayA, natSrflxB},
		{b, natRelayB, natMapA, natHostB, natRelayA},
	} {
		p, q := x.ag.findPair(x.viaHost, x.viaHostRemote), x.ag.findPair(x.viaRelay, x.viaRelayRemote)
		if p == nil || q == nil || p.state != succeeded || q.state != succeeded {
			t.Fatalf("%v: the two relayed paths did not both succeed", x.ag.Role())
		}
	}
	if pr, qr := a.findPair(natHostA, natRelayB).prio, b.findPair(natRelayB, natMapA).prio; pr != qr {
		t.Errorf("a's host to b's relay ranks %d on a, %d on b", pr, qr)
	}
	if pr, qr := a.findPair(natRelayA, natSrflxB).prio, b.findPair(natHostB, natRelayA).prio; pr != qr {
		t.Errorf("a's relay to b's host ranks %d on a, %d on b", pr, qr)
	}
}
