package scenario

import (
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
)

// maxDelaySamples bounds the Control delays kept per peer for percentiles;
// later ones still count toward the maximum and the bound checks.
const maxDelaySamples = 1 << 20

// recorder collects a run's measurements as they happen.
type recorder struct {
	spec          *Spec
	bound         [2]time.Duration
	delays        [2][]time.Duration
	over          [2]int
	firstBad      [2]host.ControlSample
	maxDelay      [2]time.Duration
	changes       []Change
	recv          [2]flowStats // indexed by receiving side
	paths         [2]uint8     // each side's path number: Connected and PathChanged events so far
	lastApp       [2]time.Time // either direction, as the Node counts it
	lastAppPreCut [2]time.Time
	sentB         [2]uint64
	buckets       []Bucket
	// changed, gaps and healed follow Spec.Changes (roam.go).
	changed  []time.Time
	gaps     [][2]time.Duration
	healed   [][2]bool
	lastRecv [2]time.Time
}

// flowStats is what one side received, per load.
type flowStats struct {
	bytes, datagrams uint64
	bytesBeforeCut   uint64
	first, last      time.Time
	highest          [MaxLoads]uint64
	seen             [MaxLoads]bool
	// pathHighest is the highest sequence number received per load and
	// sender's path; at most MaxLoads×256 entries.
	pathHighest map[loadPath]uint64
	late        uint64 // arrived after a higher sequence number of its load sent on the same path
	lateSwitch  uint64 // arrived after a higher sequence number of its load sent on a later path
	malformed   uint64
}

type loadPath struct{ load, path uint8 }

func newRecorder(s *Spec) *recorder {
	rec := &recorder{spec: s, changed: make([]time.Time, len(s.Changes)),
		gaps: make([][2]time.Duration, len(s.Changes)), healed: make([][2]bool, len(s.Changes))}
	for i := range rec.bound {
		rec.bound[i] = ControlDelayBound(s, i)
	}
	return rec
}

func (rec *recorder) bucket(now time.Time) *Bucket {
	i := int(now.Sub(world.Epoch) / rec.spec.Bucket)
	for len(rec.buckets) <= i {
		rec.buckets = append(rec.buckets, Bucket{At: time.Duration(len(rec.buckets)) * rec.spec.Bucket})
	}
	return &rec.buckets[i]
}

// cutUp reports whether the cut has not happened yet at t: while it has
// not, the direct path works.
func (rec *recorder) beforeCut(t time.Time) bool {
	return rec.spec.CutAt <= 0 || t.Before(world.Epoch.Add(rec.spec.CutAt))
}

func (rec *recorder) control(side int, s host.ControlSample) {
	d := s.Delay()
	if len(rec.delays[side]) < maxDelaySamples {
		rec.delays[side] = append(rec.delays[side], d)
	}
	rec.maxDelay[side] = max(rec.maxDelay[side], d)
	if d > rec.bound[side] && rec.beforeCut(s.Enqueued) {
		if rec.over[side] == 0 {
			rec.firstBad[side] = s
		}
		rec.over[side]++
	}
	b := rec.bucket(s.Wire)
	b.ControlDelayMax[side] = max(b.ControlDelayMax[side], d)
}

func (rec *recorder) sample(now time.Time, side int, h *host.Host) {
	c, d := h.QueuedBytes()
	b := rec.bucket(now)
	b.QueueBytes[side] = max(b.QueueBytes[side], c+d)
	b.SocketBytes[side] = max(b.SocketBytes[side], h.Socket().SendBufferUsed())
}

func (rec *recorder) app(now time.Time, side int) {
	rec.lastApp[side] = now
	if rec.beforeCut(now) {
		rec.lastAppPreCut[side] = now
	}
}

func (rec *recorder) sent(now time.Time, side, n int) {
	rec.app(now, side)
	rec.sentB[side] += uint64(n)
}

// data records a payload that side received.
func (rec *recorder) data(now time.Time, side int, b []byte) {
	rec.app(now, side)
	rec.roamData(now, side)
	f := &rec.recv[side]
	seq, _, ok := traffic.Parse(b)
	if !ok || len(b) < MinPayload || int(b[loadTag]) >= MaxLoads {
		f.malformed++
		return
	}
	load := b[loadTag]
	if f.datagrams == 0 {
		f.first = now
	}
	f.datagrams++
	f.bytes += uint64(len(b))
	f.last = now
	if rec.beforeCut(now) {
		f.bytesBeforeCut += uint64(len(b))
	}
	// Order is checked per path first: peerlink's queue keeps a flow's
	// datagrams in order, and a path is a flow. A datagram still in flight
	// on the path a connection left may land after the first ones of the
	// new path; that is counted apart.
	k := loadPath{load, b[pathTag]}
	if f.pathHighest == nil {
		f.pathHighest = make(map[loadPath]uint64)
	}
	if h, ok := f.pathHighest[k]; ok && seq <= h {
		f.late++
		return
	}
	f.pathHighest[k] = seq
	if f.seen[load] && seq <= f.highest[load] {
		f.lateSwitch++
		return
	}
	f.highest[load], f.seen[load] = seq, true
}

// path is the number of the path side's Node sends on now: it changes with
// every Connected and PathChanged (modulo 256).
func (rec *recorder) path(side int) uint8 { return rec.paths[side] }

func (rec *recorder) change(now time.Time, side int, e node.Event) {
	c := Change{At: now.Sub(world.Epoch), Side: side, Event: e.String()}
	switch e := e.(type) {
	case node.Connected:
		rec.paths[side]++
		c.NewPath, c.Path = true, e.Path
	case node.PathChanged:
		rec.paths[side]++
		c.NewPath, c.Path = true, e.Path
	}
	if f, ok := e.(node.Failed); ok {
		c.Failed = true
		c.Reason = f.Reason
		c.False = rec.beforeCut(now)
	}
	rec.changes = append(rec.changes, c)
}
