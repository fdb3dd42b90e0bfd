package iceagent

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// inFlight is one transmit on its way, delivered at at.
type inFlight struct {
	at time.Time
	to int // 0: a, 1: b
	tx Transmit
}

// slowUplink runs a (controlling) and b (controlled) over a network where
// b's requests to a are lost until a has a path (a NAT in front of a that
// opens only once a has sent to b), and from then on everything a sends
// waits delay (behind a saturating load in a kernel buffer that knows no
// Control lane); everything else arrives at once. It records both sides'
// events and the drops the agents report.
type slowUplink struct {
	ag      [2]*Agent
	now     time.Time
	delay   time.Duration
	flight  []inFlight
	events  [2][]Event
	evAt    [2][]time.Duration
	dropped [2][NumDropReasons]int
	// route, when set, replaces the network above: it returns how long a
	// transmit from side from waits, or drop.
	route func(from int, tx Transmit) (wait time.Duration, drop bool)
}

func (s *slowUplink) runUntil(t *testing.T, end time.Time) {
	for steps := 0; ; steps++ {
		if steps > 1_000_000 {
			t.Fatal("the run does not advance")
		}
		s.collect()
		next, ok := time.Time{}, false
		for _, a := range s.ag {
			if d, _, armed := a.PollTimeout(); armed && (!ok || d.Before(next)) {
				next, ok = d, true
			}
		}
		if len(s.flight) > 0 && (!ok || s.flight[0].at.Before(next)) {
			next, ok = s.flight[0].at, true
		}
		if !ok || next.After(end) {
			s.now = end
			return
		}
		s.now = maxTime(s.now, next)
		for len(s.flight) > 0 && !s.flight[0].at.After(s.now) {
			f := s.flight[0]
			s.flight = s.flight[1:]
			s.deliver(t, f)
		}
		for _, a := range s.ag {
			a.HandleTimeout(s.now)
		}
	}
}

func (s *slowUplink) collect() {
	for i, a := range s.ag {
		for {
			tx, ok := a.PollTransmit()
			if !ok {
				break
			}
			_, aHasPath := s.ag[0].Selected()
			if s.route != nil {
				if wait, drop := s.route(i, tx); !drop {
					s.flight = append(s.flight, inFlight{s.now.Add(wait), 1 - i, tx})
				}
				continue
			}
			switch {
			case i == 1 && isRequest(tx.Payload) && !aHasPath:
				// Filtered at a's NAT.
			case i == 0 && aHasPath:
				s.flight = append(s.flight, inFlight{s.now.Add(s.delay), 1, tx})
			default:
				s.flight = append(s.flight, inFlight{s.now, 1 - i, tx})
			}
		}
		for {
			e, ok := a.PollEvent()
			if !ok {
				break
			}
			s.events[i] = append(s.events[i], e)
			s.evAt[i] = append(s.evAt[i], s.now.Sub(t0))
		}
	}
	slices.SortStableFunc(s.flight, func(x, y inFlight) int { return x.at.Compare(y.at) })
}

func (s *slowUplink) deliver(t *testing.T, f inFlight) {
	var m stun.Message
	if err := stunmsg.Decode(f.tx.Payload, &m); err != nil {
		t.Fatal(err)
	}
	to := s.ag[f.to]
	r := to.HandleResponse(s.now, f.tx.Dst, f.tx.Src, &m)
	if stunmsg.IsBindingRequest(&m) {
		r = to.HandleRequest(s.now, f.tx.Dst, f.tx.Src, &m)
	}
	s.dropped[f.to][r]++
}

// The simulator found this world (tests/sim, P1): the controlling side
// behind a NAT connects at once, then saturates its slow uplink, and every
// answer it gives waits there longer than a check lives (13.75 s). The
// controlled side had the nomination, but its own check of the pair never
// succeeded in time; each of the peer's probes started another check that
// ended the same way, and it never connected. An answer that comes after
// its check gave up still proves the pair (authenticated, from where the
// check went), and the nomination waiting on the pair takes effect then.
func TestTheControlledSideSelectsTheNominatedPairWhenItsCheckIsAnsweredAfterGivingUp(t *testing.T) {
	const delay = 20 * time.Second
	// Probes must outlive the delay too, or the controlling side fails.
	cfg := ice.Config{ProbeTimeout: 2 * delay}
	a, b := newPair(t, cfg)
	s := &slowUplink{ag: [2]*Agent{a, b}, now: t0, delay: delay}
	s.runUntil(t, t0.Add(3*delay))

	if len(s.events[0]) != 1 || s.events[0][0].Kind != EventConnected {
		t.Fatalf("controlling side: events %v at %v, want one Connected", s.events[0], s.evAt[0])
	}
	// b's first check left at t0 and was filtered; its first
	// retransmission (250 ms) reached a after a had its path, and a's
	// answer arrived delay later.
	want := 250*time.Millisecond + delay
	if len(s.events[1]) != 1 || s.events[1][0].Kind != EventConnected || s.evAt[1][0] != want {
		t.Fatalf("controlled side: events %v at %v, want one Connected at %v (drops %v)",
			s.events[1], s.evAt[1], want, s.dropped[1])
	}
	if got, want := s.events[1][0].Path, s.events[0][0].Path; got.Local.Addr != want.Remote.Addr || got.Remote.Addr != want.Local.Addr {
		t.Fatalf("controlled side selected %v, the controlling side %v", got, want)
	}
	if st := b.Stats(); st.ChecksLate == 0 {
		t.Fatalf("no late answer counted: %+v", st)
	}
}

// The checks kept for late answers are bounded: each for ProbeTimeout
// after it gave up, and at most lateChecksKept, the oldest forgotten
// first.
func TestChecksThatGaveUpAreKeptForProbeTimeoutAndAtMostLateChecksKept(t *testing.T) {
	a, _ := newPair(t, ice.Config{})
	p := a.pairs[0]
	var ids []stunmsg.TxID
	for i := range lateChecksKept + 1 {
		x := &txn{id: a.newTxID(), pair: p}
		ids = append(ids, x.id)
		a.rememberExpired(t0.Add(time.Duration(i)*time.Millisecond), x)
	}
	if len(a.expired) != lateChecksKept {
		t.Fatalf("%d checks kept, want %d", len(a.expired), lateChecksKept)
	}
	at := t0.Add(lateChecksKept * time.Millisecond)
	if a.findExpired(at, ids[0]) != nil || a.findExpired(at, ids[1]) == nil {
		t.Fatal("the oldest check is not the one forgotten")
	}
	last := ids[lateChecksKept]
	forget := at.Add(a.cfg.ProbeTimeout)
	if a.findExpired(forget.Add(-time.Nanosecond), last) == nil {
		t.Fatal("a check forgotten before ProbeTimeout")
	}
	if a.findExpired(forget, last) != nil || len(a.expired) != 0 {
		t.Fatalf("%d checks still kept ProbeTimeout after the last gave up", len(a.expired))
	}
}
