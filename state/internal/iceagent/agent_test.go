package iceagent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:4000")
	addrB = netip.MustParseAddrPort("10.0.0.2:5000")
)

func host(a netip.AddrPort) stunmsg.Candidate {
	return stunmsg.NewCandidate(stunmsg.Host, a, a, netip.AddrPort{}, 65535)
}

// newPair returns two agents that know each other's credentials and host
// candidates.
func newPair(t *testing.T, cfg ice.Config) (a, b *Agent) {
	rng := rand.New(rand.NewPCG(7, 7))
	ca, cb := ice.NewCredentials(rng), ice.NewCredentials(rng)
	cfg = cfg.WithDefaults()
	a = New(t0, cfg, Params{Role: ice.Controlling, Local: ca, Remote: cb, TieBreaker: 2, TxTag: 1, Rand: rng})
	b = New(t0, cfg, Params{Role: ice.Controlled, Local: cb, Remote: ca, TieBreaker: 1, TxTag: 2, Rand: rng})
	must(t, a.AddLocalCandidate(t0, host(addrA)))
	must(t, b.AddLocalCandidate(t0, host(addrB)))
	must(t, a.AddRemoteCandidate(t0, host(addrB)))
	must(t, b.AddRemoteCandidate(t0, host(addrA)))
	return a, b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sent is one transmit, timed in milliseconds since t0.
type sent struct {
	ms  int64
	dst netip.AddrPort
}

// lockstep delivers between a and b with zero latency while deliver is
// true, jumping the clock to the earlier deadline. It records a's requests
// (checks and probes) and the events of both.
type lockstep struct {
	a, b    *Agent
	now     time.Time
	deliver bool
	// block, when set, drops the transmits it selects (a dead path).
	block  func(Transmit) bool
	aSent  []sent
	events [2][]Event
	evAt   [2][]int64
}

func (l *lockstep) runUntil(t *testing.T, end time.Time) {
	// A deadline that HandleTimeout does not move would spin here.
	const maxStepsAtOneInstant = 1000
	var last time.Time
	same := 0
	for {
		l.flush(t)
		da, _, oka := l.a.PollTimeout()
		db, _, okb := l.b.PollTimeout()
		next, ok := da, oka
		if okb && (!ok || db.Before(next)) {
			next, ok = db, true
		}
		if !ok || next.After(end) {
			l.now = end
			return
		}
		l.now = maxTime(l.now, next)
		if same++; !l.now.Equal(last) {
			last, same = l.now, 0
		}
		if same > maxStepsAtOneInstant {
			t.Fatalf("a deadline at %v stays due after HandleTimeout", l.now.Sub(t0))
		}
		l.a.HandleTimeout(l.now)
		l.b.HandleTimeout(l.now)
	}
}

func (l *lockstep) flush(t *testing.T) {
	for moved := true; moved; {
		moved = false
		for i, ag := range []*Agent{l.a, l.b} {
			other := l.b
			if i == 1 {
				other = l.a
			}
			for {
				tx, ok := ag.PollTransmit()
				if !ok {
					break
				}
				moved = true
				if i == 0 && isRequest(tx.Payload) {
					l.aSent = append(l.aSent, sent{l.now.Sub(t0).Milliseconds(), tx.Dst})
				}
				if l.deliver && (l.block == nil || !l.block(tx)) {
					deliver(t, l.now, other, tx)
				}
			}
			for {
				e, ok := ag.PollEvent()
				if !ok {
					break
				}
				l.events[i] = append(l.events[i], e)
				l.evAt[i] = append(l.evAt[i], l.now.Sub(t0).Milliseconds())
			}
		}
	}
}

func isRequest(b []byte) bool {
	var m stun.Message
	return stunmsg.Decode(b, &m) == nil && stunmsg.IsBindingRequest(&m)
}

func deliver(t *testing.T, now time.Time, to *Agent, tx Transmit) {
	var m stun.Message
	if err := stunmsg.Decode(tx.Payload, &m); err != nil {
		t.Fatal(err)
	}
	var r DropReason
	if stunmsg.IsBindingRequest(&m) {
		r = to.HandleRequest(now, tx.Dst, tx.Src, &m)
	} else {
		r = to.HandleResponse(now, tx.Dst, tx.Src, &m)
	}
	if r != DropNone && r != DropFailed {
		t.Fatalf("delivery dropped: %v", r)
	}
}

func TestChecksArePacedAtTaAndRetransmittedUntilTheCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := New(t0, ice.DefaultConfig(), Params{Role: ice.Controlling, Local: ice.NewCredentials(rng),
		Remote: ice.NewCredentials(rng), TieBreaker: 1, TxTag: 1, Rand: rng})
	must(t, a.AddLocalCandidate(t0, host(addrA)))
	other := netip.MustParseAddrPort("10.0.0.3:6000")
	must(t, a.AddRemoteCandidate(t0, host(addrB)))
	c := host(other)
	c.Priority-- // ranks second
	must(t, a.AddRemoteCandidate(t0, c))
	l := &lockstep{a: a, b: New(t0, ice.DefaultConfig(), Params{Rand: rng}), now: t0}
	l.runUntil(t, t0.Add(time.Minute))

	// 250 ms RTO doubling to a 2 s cap, 9 sends; the second pair one Ta later.
	sched := []int64{0, 250, 750, 1750, 3750, 5750, 7750, 9750, 11750}
	var want []sent
	for i, ms := range sched {
		want = append(want, sent{ms, addrB})
		if i == 0 {
			want = append(want, sent{50, other})
		}
	}
	for _, ms := range sched[1:] {
		want = append(want, sent{ms + 50, other})
	}
	sortSent(want)
	if diff := cmp.Diff(want, l.aSent, cmp.AllowUnexported(sent{}), cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })); diff != "" {
		t.Fatalf("check schedule (-want +got):\n%s", diff)
	}
	// The last pair gives up one capped RTO after its last send.
	if len(l.events[0]) != 1 || l.events[0][0].Reason != ice.ChecksFailed || l.evAt[0][0] != 11800+2000 {
		t.Fatalf("events %v at %v, want ChecksFailed at 13800 ms", l.events[0], l.evAt[0])
	}
}

func sortSent(s []sent) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].ms < s[j-1].ms; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestCandidateTimeoutFiresExactlyTenSecondsAfterCreation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := New(t0, ice.DefaultConfig(), Params{Rand: rng, Local: ice.NewCredentials(rng), Remote: ice.NewCredentials(rng)})
	d, reason, ok := a.PollTimeout()
	if !ok || !d.Equal(t0.Add(10*time.Second)) || reason != "ice: candidate-timeout" {
		t.Fatalf("PollTimeout = %v %q %v", d.Sub(t0), reason, ok)
	}
	a.HandleTimeout(d.Add(-time.Nanosecond))
	if a.Failure() != 0 {
		t.Fatal("failed early")
	}
	a.HandleTimeout(d)
	if e, _ := a.PollEvent(); e.Kind != EventFailed || e.Reason != ice.CandidateTimeout {
		t.Fatalf("event %+v", e)
	}
}

func TestConnectedPathIsProbedEveryIntervalAndFailsExactlyAtProbeTimeout(t *testing.T) {
	a, b := newPair(t, ice.Config{})
	l := &lockstep{a: a, b: b, now: t0, deliver: true}
	l.runUntil(t, t0.Add(5*time.Second))
	if len(l.events[0]) != 1 || l.events[0][0].Kind != EventConnected {
		t.Fatalf("a events %v", l.events[0])
	}
	connectedAt := l.evAt[0][0]
	// Keep the application busy so that active timing holds.
	a.NotifyAppTraffic(l.now)
	b.NotifyAppTraffic(l.now)
	l.aSent = nil
	l.deliver = false // the path is cut at 5 s
	l.runUntil(t, t0.Add(30*time.Second))
	var probes []int64
	for _, s := range l.aSent {
		probes = append(probes, s.ms)
	}
	// Probes continue at 1.5 s from selection; the last answer came at 4.5 s
	// after selection (the probe just before the cut).
	var wantProbes []int64
	lastAnswer := connectedAt
	for ms := connectedAt + 1500; ms < 30000; ms += 1500 {
		if ms <= 5000 {
			lastAnswer = ms
			continue
		}
		if ms < lastAnswer+15000 {
			wantProbes = append(wantProbes, ms)
		}
	}
	if diff := cmp.Diff(wantProbes, probes); diff != "" {
		t.Fatalf("probe schedule (-want +got):\n%s", diff)
	}
	if got := l.events[0][len(l.events[0])-1]; got.Reason != ice.ProbeTimeout || l.evAt[0][len(l.evAt[0])-1] != lastAnswer+15000 {
		t.Fatalf("last event %+v at %d ms, want ProbeTimeout at %d ms", got, l.evAt[0][len(l.evAt[0])-1], lastAnswer+15000)
	}
}

func TestIdleTimingStartsAfterIdleAfterAndTrafficRestoresActiveTiming(t *testing.T) {
	a, b := newPair(t, ice.Config{})
	l := &lockstep{a: a, b: b, now: t0, deliver: true}
	l.runUntil(t, t0.Add(time.Second))
	connectedAt := l.evAt[0][0]
	l.aSent = nil
	l.runUntil(t, t0.Add(90*time.Second))
	if !a.Idle() {
		t.Fatal("not idle after 90 s without traffic")
	}
	// 13 active probes (1.5 s .. 19.5 s after selection), then idle ones
	// 25 s after the last active probe.
	var want []int64
	for k := int64(1); k <= 13; k++ {
		want = append(want, connectedAt+1500*k)
	}
	for ms := connectedAt + 19500 + 25000; ms <= 90000; ms += 25000 {
		want = append(want, ms)
	}
	var got []int64
	for _, s := range l.aSent {
		got = append(got, s.ms)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("probe schedule (-want +got):\n%s", diff)
	}
	l.aSent = nil
	if !a.NotifyAppTraffic(l.now) {
		t.Fatal("waking from idle did not move the deadline earlier")
	}
	l.runUntil(t, l.now.Add(3100*time.Millisecond))
	wake := l.now.Add(-3100 * time.Millisecond).Sub(t0).Milliseconds()
	got = got[:0]
	for _, s := range l.aSent {
		got = append(got, s.ms)
	}
	if diff := cmp.Diff([]int64{wake, wake + 1500, wake + 3000}, got); diff != "" || a.Idle() {
		t.Fatalf("after traffic (-want +got):\n%s idle=%v", diff, a.Idle())
	}
}

func TestResponsesAreAcceptedOnlyFromTheRequestDestinationWithIntegrity(t *testing.T) {
	a, b := newPair(t, ice.Config{})
	a.HandleTimeout(t0)
	tx, ok := a.PollTransmit()
	if !ok {
		t.Fatal("no check")
	}
	var req stun.Message
	must(t, stunmsg.Decode(tx.Payload, &req))
	_, remote := a.Credentials()
	resp := stunmsg.SuccessResponse(req.TransactionID, addrA, remote.Pwd)
	var m stun.Message
	must(t, stunmsg.Decode(resp, &m))
	if r := a.HandleResponse(t0, addrA, netip.MustParseAddrPort("10.9.9.9:5000"), &m); r != DropSourceMismatch {
		t.Fatalf("wrong source: %v", r)
	}
	bad := stunmsg.SuccessResponse(req.TransactionID, addrA, "not-the-password-at-all")
	must(t, stunmsg.Decode(bad, &m))
	if r := a.HandleResponse(t0, addrA, addrB, &m); r != DropIntegrity {
		t.Fatalf("wrong password: %v", r)
	}
	unknown := stunmsg.SuccessResponse(stunmsg.TxID{9}, addrA, remote.Pwd)
	must(t, stunmsg.Decode(unknown, &m))
	if r := a.HandleResponse(t0, addrA, addrB, &m); r != DropUnknownTransaction {
		t.Fatalf("unknown transaction: %v", r)
	}
	must(t, stunmsg.Decode(resp, &m))
	if r := a.HandleResponse(t0, addrA, addrB, &m); r != DropNone {
		t.Fatalf("good response: %v", r)
	}
	_ = b
}

func TestAPeerReflexiveCandidateIsLearnedFromACheck(t *testing.T) {
	a, b := newPair(t, ice.Config{})
	b.HandleTimeout(t0)
	tx, _ := b.PollTransmit()
	var m stun.Message
	must(t, stunmsg.Decode(tx.Payload, &m))
	natted := netip.MustParseAddrPort("198.51.100.4:40000")
	if r := a.HandleRequest(t0, addrA, natted, &m); r != DropNone {
		t.Fatal(r)
	}
	if i := a.remoteIndex(natted); i < 0 || a.remotes[i].Type != stunmsg.PeerReflexive {
		t.Fatalf("remotes %v", a.remotes)
	}
	if p := a.findPair(addrA, natted); p == nil || len(a.triggered) != 1 || a.triggered[0] != p {
		t.Fatal("no triggered check toward the peer-reflexive candidate")
	}
}

func TestCredentialsCarryEnoughRandomness(t *testing.T) {
	c := ice.NewCredentials(rand.New(rand.NewPCG(1, 2)))
	// 6 bits per ice-char: 8 chars = 48 bits >= 24, 24 chars = 144 >= 128.
	if len(c.Ufrag)*6 < 24 || len(c.Pwd)*6 < 128 || !c.Valid() {
		t.Fatalf("%+v", c)
	}
}

// A HandleTimeout that comes late (a stalled loop, a clock that jumped)
// retransmits a check in flight once and schedules the next one a full RTO
// later: no burst to catch up, and no deadline left in the past.
func TestALateTimeoutRetransmitsACheckOnceAndReschedulesFromNow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := New(t0, ice.DefaultConfig(), Params{Role: ice.Controlling, Local: ice.NewCredentials(rng),
		Remote: ice.NewCredentials(rng), TieBreaker: 1, TxTag: 1, Rand: rng})
	must(t, a.AddLocalCandidate(t0, host(addrA)))
	must(t, a.AddRemoteCandidate(t0, host(addrB)))
	a.HandleTimeout(t0) // the first check
	drain := func() int {
		n := 0
		for _, ok := a.PollTransmit(); ok; _, ok = a.PollTransmit() {
			n++
		}
		return n
	}
	if n := drain(); n != 1 {
		t.Fatalf("%d transmits at start, want the first check", n)
	}
	late := t0.Add(3 * time.Second) // the 250 ms and 750 ms retransmissions are overdue
	a.HandleTimeout(late)
	if n := drain(); n != 1 {
		t.Fatalf("%d transmits after a 3 s stall, want exactly one retransmission", n)
	}
	at, _, ok := a.PollTimeout()
	if !ok || !at.After(late) {
		t.Fatalf("next deadline %v (%v), want after %v", at, ok, late)
	}
	if want := late.Add(500 * time.Millisecond); at.After(want) {
		t.Fatalf("next deadline %v, want by %v (one doubled RTO)", at, want)
	}
}
