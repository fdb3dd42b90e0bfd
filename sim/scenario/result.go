package scenario

import (
	"fmt"
	"slices"
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// Result is what a run measured. Everything in it is a function of the
// Spec; wall-clock figures are the caller's (the simulator reads no clock).
type Result struct {
	Spec Spec
	// TraceHash and TraceRecords identify the run: the same Spec gives the
	// same hash.
	TraceHash    uint64
	TraceRecords uint64
	Events       uint64
	Simulated    time.Duration
	Peers        [2]PeerResult
	// Timeline is every state change of the connection, both sides, in
	// order.
	Timeline []Change
	// FalseFailures counts Failed events while the direct path worked
	// (before the cut, or in a run without one).
	FalseFailures int
	// Detect is, per side, how long after the cut Failed arrived; Detected
	// says whether it did.
	Detect   [2]time.Duration
	Detected [2]bool
	Restarts int
	Buckets  []Bucket
	// NetChanges are the Spec's network changes with the gap each left.
	NetChanges []NetChangeResult
}

// PeerResult is one peer's share of a Result.
type PeerResult struct {
	Name string
	// ControlDelays is every Control datagram's enqueue-to-wire time, in
	// wire order (at most maxDelaySamples of them).
	ControlDelays   []time.Duration
	ControlDelayMax time.Duration
	// ControlDelayBound is ControlDelayBound for this peer; OverBound
	// counts Control datagrams enqueued before the cut that exceeded it,
	// and FirstOverBound is the first of them.
	ControlDelayBound time.Duration
	OverBound         int
	FirstOverBound    host.ControlSample
	// What this peer's application sent and received.
	SentBytes         uint64
	ReceivedBytes     uint64
	ReceivedDatagrams uint64
	ReceivedBeforeCut uint64
	FirstReceived     time.Duration
	LastReceived      time.Duration
	// Late counts datagrams that arrived after a higher sequence number of
	// their load sent on the same path: reordered (or duplicated) on the
	// way, or by the sender. LateAcrossSwitch counts those that arrived
	// after a higher sequence number sent on a later path: in flight on
	// the path the connection left while the new path delivered faster.
	// peerlink does not hold data back at a path switch to prevent these.
	Late             uint64
	LateAcrossSwitch uint64
	Malformed        uint64
	// LastApp is the last application datagram either way, since the
	// epoch; LastAppBeforeCut the last one before the cut.
	LastApp          time.Duration
	LastAppBeforeCut time.Duration

	// Relays is the Node's view of each relay at the end, in the order
	// added: its measured round trip, and how many connections use it.
	Relays []node.RelayStats

	Host   host.Stats
	Pump   pump.Stats
	Queue  gso.Stats
	Node   node.Stats
	Socket netmodel.SocketStats
}

// Change is one state event of the connection.
type Change struct {
	At     time.Duration
	Side   int
	Event  string
	Failed bool
	Reason node.FailReason
	// False marks a Failed while the path worked.
	False bool
	// NewPath marks a Connected or PathChanged: the side sends on Path
	// from now.
	NewPath bool
	Path    node.Path
}

// String is one line of the timeline: when, which side, what.
func (c Change) String() string {
	s := fmt.Sprintf("%v side %d %s", c.At, c.Side, c.Event)
	if c.False {
		s += " (false failure)"
	}
	return s
}

// Bucket is one slice of the time series.
type Bucket struct {
	At              time.Duration
	ControlDelayMax [2]time.Duration
	QueueBytes      [2]int // payload queued in the gso queue, the slice's maximum
	SocketBytes     [2]int // send buffer in use, the slice's maximum
}

func (r *run) result() *Result {
	rec := r.rec
	res := &Result{
		Spec:         r.spec,
		TraceHash:    r.w.Trace().Sum(),
		TraceRecords: r.w.Trace().Len(),
		Events:       r.w.Fired(),
		Simulated:    r.w.Elapsed(),
		Timeline:     rec.changes,
		Restarts:     r.sess.Restarts(),
		Buckets:      rec.buckets,
		NetChanges:   rec.netChangeResults(),
	}
	for i, h := range r.hosts {
		f := &rec.recv[i]
		p := &res.Peers[i]
		*p = PeerResult{
			Name:          h.Name(),
			ControlDelays: rec.delays[i], ControlDelayMax: rec.maxDelay[i],
			ControlDelayBound: rec.bound[i], OverBound: rec.over[i], FirstOverBound: rec.firstBad[i],
			SentBytes: rec.sentB[i], ReceivedBytes: f.bytes, ReceivedDatagrams: f.datagrams,
			ReceivedBeforeCut: f.bytesBeforeCut, Late: f.late, LateAcrossSwitch: f.lateSwitch, Malformed: f.malformed,
			Host: h.Stats(), Pump: h.Pump().Stats(), Queue: h.Pump().Queue().Stats(),
			Node: h.Node().Stats(), Socket: h.Socket().Stats(),
		}
		for _, a := range h.Node().Relays() {
			if st, ok := h.Node().RelayStats(a); ok {
				p.Relays = append(p.Relays, st)
			}
		}
		if f.datagrams > 0 {
			p.FirstReceived, p.LastReceived = f.first.Sub(world.Epoch), f.last.Sub(world.Epoch)
		}
		if !rec.lastApp[i].IsZero() {
			p.LastApp = rec.lastApp[i].Sub(world.Epoch)
		}
		if !rec.lastAppPreCut[i].IsZero() {
			p.LastAppBeforeCut = rec.lastAppPreCut[i].Sub(world.Epoch)
		}
	}
	for _, c := range rec.changes {
		if c.False {
			res.FalseFailures++
		}
		if c.Failed && !c.False && !res.Detected[c.Side] {
			res.Detected[c.Side] = true
			res.Detect[c.Side] = c.At - r.spec.CutAt
		}
	}
	return res
}

// Percentile returns the p-th percentile (0 to 100) of ds by the
// nearest-rank method; 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// DetectDelay is the later side's detection delay, and whether both
// sides detected the cut.
func (r *Result) DetectDelay() (time.Duration, bool) {
	return max(r.Detect[0], r.Detect[1]), r.Detected[0] && r.Detected[1]
}

// Late counts the datagrams, both ways, that arrived after a later one of
// their own flow (load): Late and LateAcrossSwitch of both peers.
func (r *Result) Late() uint64 {
	var n uint64
	for _, p := range r.Peers {
		n += p.Late + p.LateAcrossSwitch
	}
	return n
}

// ControlDelayMax is the largest Control delay of either peer.
func (r *Result) ControlDelayMax() time.Duration {
	return max(r.Peers[0].ControlDelayMax, r.Peers[1].ControlDelayMax)
}

// Throughput is the application goodput peer i received before the cut,
// in bits per second, over the time from its first datagram to the cut
// (or the end).
func (r *Result) Throughput(i int) float64 {
	p := r.Peers[i]
	end := r.Simulated
	if r.Spec.CutAt > 0 {
		end = min(end, r.Spec.CutAt)
	}
	span := end - p.FirstReceived
	if p.ReceivedDatagrams == 0 || span <= 0 {
		return 0
	}
	return float64(p.ReceivedBeforeCut) * 8 / span.Seconds()
}
