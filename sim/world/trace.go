package world

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"net/netip"
	"slices"
	"time"
)

// Kind says what a trace record is about.
type Kind uint8

const (
	// KindEvent: a scheduled event ran; Where is its label.
	KindEvent Kind = iota + 1
	// KindSend: a host handed a datagram to its socket.
	KindSend
	// KindDeliver: a datagram reached a socket's receive queue.
	KindDeliver
	// KindDrop: a datagram was lost; Reason says why.
	KindDrop
	// KindNote: anything else a component wants in the record (a NAT binding
	// made or expired, a partition begun, a connection's state change).
	KindNote
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindSend:
		return "send"
	case KindDeliver:
		return "deliver"
	case KindDrop:
		return "drop"
	case KindNote:
		return "note"
	}
	return "invalid"
}

// Record is one line of the trace.
type Record struct {
	At     time.Time
	Kind   Kind
	Where  string // component: "link:alice/up", "nat:home", an event label
	Reason string // why (drop reason, note text); empty for plain sends
	ID     uint64 // packet id (duplicates share their original's)
	Src    netip.AddrPort
	Dst    netip.AddrPort
	Size   int
}

func (r Record) String() string {
	at := r.At.Sub(Epoch)
	switch {
	case r.Kind == KindEvent:
		return fmt.Sprintf("%v event %s", at, r.Where)
	case r.Kind == KindNote && !r.Src.IsValid():
		return fmt.Sprintf("%v note %s %s", at, r.Where, r.Reason)
	case r.Kind == KindNote:
		return fmt.Sprintf("%v note %s %s %v %v", at, r.Where, r.Reason, r.Src, r.Dst)
	}
	return fmt.Sprintf("%v %s %s %s id=%d %v->%v %dB", at, r.Kind, r.Where, r.Reason, r.ID, r.Src, r.Dst, r.Size)
}

// Count is how many records share a kind, place and reason.
type Count struct {
	Kind   Kind
	Where  string
	Reason string
	N      uint64
}

type countKey struct {
	kind          Kind
	where, reason string
}

// Trace hashes every record in a canonical byte encoding (FNV-64a), keeps the
// latest ones in a bounded ring, and counts them by kind, place and reason.
// Two runs of one seed must end with the same Sum.
type Trace struct {
	h      hash.Hash64
	buf    []byte
	n      uint64
	ring   []Record
	next   int              // ring slot the next record goes to
	index  map[countKey]int // position in counts; lookups only, never ranged
	counts []Count          // in first-seen order
	sink   func(Record)
}

func newTrace(ringRecords int) *Trace {
	return &Trace{
		h:     fnv.New64a(),
		ring:  make([]Record, 0, ringRecords),
		index: make(map[countKey]int),
	}
}

// SetSink streams every later record to fn as well (a CLI writing a full log
// or collecting plot points). nil stops streaming.
func (t *Trace) SetSink(fn func(Record)) { t.sink = fn }

// Sum is the hash of every record so far.
func (t *Trace) Sum() uint64 { return t.h.Sum64() }

// Len is the number of records so far.
func (t *Trace) Len() uint64 { return t.n }

// Latest returns the kept records, oldest first (at most the ring's size).
func (t *Trace) Latest() []Record {
	if len(t.ring) < cap(t.ring) {
		return slices.Clone(t.ring)
	}
	return append(slices.Clone(t.ring[t.next:]), t.ring[:t.next]...)
}

// Counts returns the counters sorted by kind, place and reason, so that a
// summary prints the same way every run.
func (t *Trace) Counts() []Count {
	out := slices.Clone(t.counts)
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Where, b.Where), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

// Count returns how many records matched kind and reason at any place; an
// empty reason matches every reason.
func (t *Trace) Count(kind Kind, reason string) uint64 {
	var n uint64
	for _, c := range t.counts {
		if c.Kind == kind && (reason == "" || c.Reason == reason) {
			n += c.N
		}
	}
	return n
}

// Send, Deliver, Drop and Note record a packet or a remark at the world's
// current time.
func (w *World) Send(where string, id uint64, src, dst netip.AddrPort, size int) {
	w.trace.add(Record{At: w.now, Kind: KindSend, Where: where, ID: id, Src: src, Dst: dst, Size: size})
}

func (w *World) Deliver(where string, id uint64, src, dst netip.AddrPort, size int) {
	w.trace.add(Record{At: w.now, Kind: KindDeliver, Where: where, ID: id, Src: src, Dst: dst, Size: size})
}

func (w *World) Drop(where, reason string, id uint64, src, dst netip.AddrPort, size int) {
	w.trace.add(Record{At: w.now, Kind: KindDrop, Where: where, Reason: reason, ID: id, Src: src, Dst: dst, Size: size})
}

// Note records a remark. The text is counted as a reason, so it should come
// from a small fixed set ("nat_bind", "partition"); put varying detail in
// NoteFlow's addresses instead.
func (w *World) Note(where, text string) {
	w.trace.add(Record{At: w.now, Kind: KindNote, Where: where, Reason: text})
}

// NoteFlow records a remark about a pair of endpoints (a NAT binding from
// an internal to an external address, say).
func (w *World) NoteFlow(where, text string, a, b netip.AddrPort) {
	w.trace.add(Record{At: w.now, Kind: KindNote, Where: where, Reason: text, Src: a, Dst: b})
}

func (t *Trace) add(r Record) {
	t.n++
	t.hash(r)
	k := countKey{r.Kind, r.Where, r.Reason}
	i, ok := t.index[k]
	if !ok {
		i = len(t.counts)
		t.index[k] = i
		t.counts = append(t.counts, Count{Kind: r.Kind, Where: r.Where, Reason: r.Reason})
	}
	t.counts[i].N++
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, r)
	} else if cap(t.ring) > 0 {
		t.ring[t.next] = r
		t.next = (t.next + 1) % cap(t.ring)
	}
	if t.sink != nil {
		t.sink(r)
	}
}

// hash feeds the canonical encoding of r: fixed-width integers in big-endian
// order and length-prefixed strings, so that no two different records can
// encode to the same bytes.
func (t *Trace) hash(r Record) {
	b := t.buf[:0]
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.Sub(Epoch)))
	b = append(b, byte(r.Kind))
	b = appendString(b, r.Where)
	b = appendString(b, r.Reason)
	b = binary.BigEndian.AppendUint64(b, r.ID)
	b = appendAddrPort(b, r.Src)
	b = appendAddrPort(b, r.Dst)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Size))
	t.buf = b
	t.h.Write(b)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	switch {
	case !a.IsValid():
		b = append(b, 0)
	case a.Is4():
		b = append(b, 4)
	default:
		b = append(b, 6)
	}
	a16 := a.As16()
	b = append(b, a16[:]...)
	return binary.BigEndian.AppendUint16(b, ap.Port())
}
