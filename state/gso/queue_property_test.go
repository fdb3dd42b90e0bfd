package gso

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/internal/proptest"
	"pgregory.net/rapid"
)

// The properties every ordering policy is held to. Each returns a non-empty
// message when the queue broke it. The harness below drives a queue through
// generated enqueues and partial drains and calls them at every step.
//
// P-control: every Control datagram enqueued before a drain leaves before
//            any Data datagram of that drain.
// P-flow:    within a flow, datagrams leave in enqueue order, byte-exact,
//            none lost and none duplicated, across partial sends.
// P-gso:     every batch is one src/dst/ECN/class, equal segments but a
//            shorter last one, at most MaxSegments and the family's byte
//            limit, so no well-formed batch can earn EINVAL or EMSGSIZE.
//            A batch is sliced at its segment size, as the kernel slices
//            it, so a datagram of the wrong length in a batch shows up as
//            a P-flow byte mismatch.
// P-bound:   the bytes held per class never exceed that class's bound, and
//            Control is refused only by its own bound.
// P-budget:  a peek under a Data budget offers Data only while below it
//            (so at most one segment crosses it), and offers something
//            whenever anything waits and the budget has room: a datagram
//            larger than the budget is not stuck.

var propFlows = []flowKey{
	{src: netip.MustParseAddrPort("10.0.0.1:4000"), dst: netip.MustParseAddrPort("192.0.2.7:51820")},
	{src: netip.MustParseAddrPort("10.0.0.1:4000"), dst: netip.MustParseAddrPort("198.51.100.9:3478")},
	{src: netip.MustParseAddrPort("[fd00::1]:4000"), dst: netip.MustParseAddrPort("[2001:db8::5]:51820")},
	{dst: netip.MustParseAddrPort("203.0.113.4:9")}, // kernel-chosen source
}

// sentDatagram is one datagram the model saw leave.
type sentDatagram struct {
	key flowKey
	id  uint32
}

// queueModel tracks what the queue was given and what left.
type queueModel struct {
	q        *Queue
	cfg      Config
	nextID   uint32
	pending  map[flowKey][]uint32 // per flow, ids enqueued and not yet sent, in order
	payload  map[uint32][]byte
	queued   [numClasses]int // datagrams per class still queued
	only     string          // check only the property with this prefix ("" = all)
	violated []string
}

func (m *queueModel) failf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if m.only != "" && !strings.HasPrefix(msg, m.only) {
		return
	}
	m.violated = append(m.violated, msg)
}

// payloadFor makes a payload that names its datagram, so the model can tell
// which one left and check its bytes.
func payloadFor(id uint32, n int) []byte {
	p := make([]byte, n)
	var tag [4]byte
	binary.BigEndian.PutUint32(tag[:], id)
	for i := range p {
		p[i] = tag[i%4] ^ byte(i/4)
	}
	return p
}

func idOf(p []byte) (uint32, bool) {
	if len(p) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(p[:4]), true
}

func (m *queueModel) enqueue(t *rapid.T) {
	key := rapid.SampledFrom(propFlows).Draw(t, "flow")
	key.class = Class(rapid.IntRange(0, 1).Draw(t, "class"))
	key.ecn = ECN(rapid.IntRange(0, 3).Draw(t, "ecn"))
	n := rapid.OneOf(
		rapid.IntRange(4, 1500),
		rapid.SampledFrom([]int{4, 100, 1200, 1200, 1200, 1500}),
		rapid.IntRange(1501, MaxBytesFor(key.dst)),
	).Draw(t, "len")
	id := m.nextID
	m.nextID++
	p := payloadFor(id, n)
	heldBefore := m.q.held
	err := m.q.Enqueue(key.src, key.dst, p, key.class, key.ecn)
	switch err {
	case nil:
		m.pending[key] = append(m.pending[key], id)
		m.payload[id] = p
		m.queued[key.class]++
	case ErrQueueFull:
		// Refusal must be the class's own bound: a fresh buffer would
		// not fit within it.
		need := classBytes(sizeClass(m.q.batchLimit(key.dst, n)))
		if heldBefore[key.class]+need <= m.q.byteLimit(key.class) {
			m.failf("P-bound: %v datagram refused though its class holds %d of %d", key.class, heldBefore[key.class], m.q.byteLimit(key.class))
		}
	default:
		m.failf("enqueue of a valid datagram: %v", err)
	}
	m.checkBound()
}

func (m *queueModel) checkBound() {
	for c := Class(0); c < numClasses; c++ {
		if m.q.held[c] > m.q.byteLimit(c) {
			m.failf("P-bound: %v holds %d bytes, bound %d", c, m.q.held[c], m.q.byteLimit(c))
		}
	}
}

// drain peeks some batches, lets a pretend kernel take a prefix of their
// datagrams, and checks what left.
func (m *queueModel) drain(t *rapid.T) {
	peek := rapid.IntRange(1, 8).Draw(t, "peek")
	budget := rapid.OneOf(rapid.Just(math.MaxInt), rapid.IntRange(0, 100_000)).Draw(t, "dataBudget")
	batches, _ := m.q.PeekLimit(make([]*Batch, 0, peek), budget)
	total, offeredData, lastData := 0, 0, 0
	for _, b := range batches {
		m.checkBatch(b)
		total += b.Segments()
		if b.class == Data && b.Segments() > 0 {
			offeredData += len(b.Payload())
			lastData = len(b.Segment(b.Segments() - 1))
		}
	}
	// Data is offered while below the budget: all of it but the last
	// offered segment must fit under it.
	if offeredData > 0 && offeredData-lastData >= budget {
		m.failf("P-budget: %d bytes of Data offered under a budget of %d", offeredData, budget)
	}
	if budget > 0 && total == 0 && m.queued[Data]+m.queued[Control] > 0 && peek > 0 {
		m.failf("P-budget: nothing offered though %d datagrams wait and the budget has room", m.queued[Data]+m.queued[Control])
	}
	taken := rapid.IntRange(0, total).Draw(t, "taken")
	queuedControl := m.queued[Control]
	seenData := false
	left := taken
	for _, b := range batches {
		for i := 0; i < b.Segments() && left > 0; i++ {
			left--
			if b.class == Data {
				seenData = true
			} else if seenData {
				m.failf("P-control: control datagram left after data in one drain")
			}
			if b.class == Data && queuedControl > 0 {
				m.failf("P-control: data left while %d control datagrams waited", queuedControl)
			}
			if b.class == Control {
				queuedControl--
			}
			m.sent(b, b.Segment(i))
		}
	}
	if err := m.q.Advance(taken); err != nil {
		m.failf("advance %d of %d peeked: %v", taken, total, err)
	}
}

func (m *queueModel) sent(b *Batch, seg []byte) {
	key := flowKey{src: b.src, dst: b.dst, ecn: b.ecn, class: b.class}
	id, ok := idOf(seg)
	want := m.pending[key]
	switch {
	case !ok || len(want) == 0:
		m.failf("P-flow: unexpected datagram on flow %v", key)
		return
	case id != want[0]:
		m.failf("P-flow: flow %v sent datagram %d, expected %d", key, id, want[0])
	case !bytes.Equal(seg, m.payload[id]):
		m.failf("P-flow: datagram %d changed in the queue", id)
	}
	m.pending[key] = want[1:]
	m.queued[key.class]--
}

func (m *queueModel) checkBatch(b *Batch) {
	n := b.Segments()
	switch {
	case n < 1 || n > m.cfg.Caps.MaxSegments:
		m.failf("P-gso: batch has %d segments, cap %d", n, m.cfg.Caps.MaxSegments)
	case len(b.Payload()) > MaxBytesFor(b.dst):
		m.failf("P-gso: batch of %d bytes toward %v", len(b.Payload()), b.dst)
	case b.segSize <= 0:
		m.failf("P-gso: segment size %d", b.segSize)
	}
	for i := 0; i < n; i++ {
		l := len(b.Segment(i))
		if l > b.segSize || (l < b.segSize && i != n-1) || l == 0 {
			m.failf("P-gso: segment %d of %d is %d bytes, segment size %d", i, n, l, b.segSize)
		}
	}
}

// checkQueue is the property: arbitrary enqueues and partial drains under
// the given policy, then a full drain, and nothing lost or reordered.
//
// only restricts the check to one property ("P-flow:"), so that a bite test
// shows rapid finding a violation of exactly that property.
func checkQueue(policy Policy, f fault, only string) func(*rapid.T) {
	return func(t *rapid.T) {
		cfg := Config{
			Caps:             Caps{MaxSegments: rapid.SampledFrom([]int{1, 2, 5, 64, 128}).Draw(t, "maxSegments")},
			Policy:           policy,
			DataByteLimit:    rapid.SampledFrom([]int{4 << 10, 64 << 10, 256 << 10, DefaultConfig().DataByteLimit}).Draw(t, "dataLimit"),
			ControlByteLimit: rapid.SampledFrom([]int{128 << 10, DefaultConfig().ControlByteLimit}).Draw(t, "controlLimit"),
		}
		q := New(cfg)
		q.fault = f
		m := &queueModel{q: q, cfg: cfg, only: only, pending: map[flowKey][]uint32{}, payload: map[uint32][]byte{}}
		t.Repeat(map[string]func(*rapid.T){
			"enqueue": m.enqueue,
			"drain":   m.drain,
			"":        func(*rapid.T) { m.report(t) },
		})
		for steps := 0; !m.q.Empty() && steps < 1<<16; steps++ {
			m.drain(t)
		}
		for key, ids := range m.pending {
			if len(ids) > 0 {
				m.failf("P-flow: %d datagrams of flow %v never left", len(ids), key)
			}
		}
		m.report(t)
	}
}

func (m *queueModel) report(t *rapid.T) {
	if len(m.violated) > 0 {
		t.Fatalf("%s", strings.Join(m.violated, "\n"))
	}
}

func TestQueueKeepsControlFirstFlowOrderGSORulesAndBound(t *testing.T) {
	rapid.Check(t, checkQueue(ControlFirst, faultNone, ""))
}

// The properties must bite: the comparison policies break exactly the rule
// each was kept to show.

func TestFIFOPolicyLetsDataDelayControl(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(FIFO, faultNone, "P-control:"))
	if f == nil || !strings.Contains(f.Message, "P-control") {
		t.Fatalf("rapid found no control-lane violation under FIFO: %+v", f)
	}
}

func TestSmallestSegmentFirstPolicyReordersAFlow(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(SmallestSegmentFirst, faultNone, "P-flow:"))
	if f == nil || !strings.Contains(f.Message, "P-flow") {
		t.Fatalf("rapid found no flow reordering under smallest-segment-first: %+v", f)
	}
}

func TestIgnoringMaxSegmentsBreaksTheGSORules(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(ControlFirst, faultIgnoreMaxSegments, "P-gso:"))
	if f == nil || !strings.Contains(f.Message, "P-gso") {
		t.Fatalf("rapid found no over-long batch: %+v", f)
	}
}

func TestLettingALongerDatagramJoinABatchCorruptsIt(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(ControlFirst, faultIgnoreSegmentSize, "P-flow:"))
	if f == nil || !strings.Contains(f.Message, "P-flow") {
		t.Fatalf("rapid found no corrupted datagram: %+v", f)
	}
}

func TestIgnoringTheByteLimitBreaksTheBound(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(ControlFirst, faultIgnoreByteLimit, "P-bound:"))
	if f == nil || !strings.Contains(f.Message, "P-bound") {
		t.Fatalf("rapid found no bound violation: %+v", f)
	}
}

func init() { proptest.UseChecks(1000) }

func TestIgnoringTheDataBudgetIsCaught(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(ControlFirst, faultIgnoreDataBudget, "P-budget:"))
	if f == nil || !strings.Contains(f.Message, "P-budget") {
		t.Fatalf("rapid found no budget violation: %+v", f)
	}
}

// A budget that admits only segments fitting whole under it would leave a
// datagram larger than the budget queued for ever, and all Data behind it.
func TestABudgetThatAdmitsOnlyWholeSegmentsStrandsLargeDatagrams(t *testing.T) {
	f := proptest.ExpectFailure(t, checkQueue(ControlFirst, faultWholeSegmentsInBudget, "P-budget:"))
	if f == nil || !strings.Contains(f.Message, "nothing offered") {
		t.Fatalf("rapid found no stranded datagram: %+v", f)
	}
}
