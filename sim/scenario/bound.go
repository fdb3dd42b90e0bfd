package scenario

import (
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// ControlDelayBound is the longest a Control datagram of peer i may wait
// from its enqueue into the gso queue until its last bit leaves the
// peer's uplink, when Control truly goes first. It is the sum of two
// terms, both drain times at the uplink's rate:
//
// The kernel-queue bound: a full send buffer ahead of the datagram.
// Control goes first, so it waits in the gso queue only while the socket
// is blocked, and it enters the socket as soon as the buffer is writable;
// either way the payload ahead of it in the socket is less than
// SendBufferBytes (the socket refuses more once it is full).
//
// One pump iteration: a flush offers whole GSO batches, and the socket
// takes a batch whole while it is not yet full, so one iteration can leave
// up to one largest batch (the lesser of 64 KiB and MaxSegments datagrams)
// beyond the full mark; plus the datagram's own serialization.
//
// With the pump's kernel budget (Spec.KernelDataBudget, its floor; the
// budget grows to what drains within pump.Config.KernelTargetDelay at the
// measured rate) the Data ahead is tighter: the pump offers Data only while
// the socket holds less than the budget unsent, and the last segment offered may cross it by less than
// one datagram, so at most the budget plus one largest datagram (if that
// is less than the send buffer's term). This is the bound the budget is
// for, and P1 holds it to it.
//
// Bytes become wire time with every datagram's IP and UDP header (IPv4:
// every simulated address is IPv4). Data datagrams ahead are at least
// MinDataDatagram bytes each, which bounds their headers; Control ahead is
// bounded by ControlAheadMax datagrams of at most MaxControlBytes, an
// assumption about peerlink's pacing (checks every Ta, a probe every
// ProbeInterval, one answer per request) that P1 would expose if it broke.
// An uplink without a rate serializes in no time and the bound is zero.
func ControlDelayBound(s *Spec, i int) time.Duration {
	p := s.Peers[i]
	rate := p.Link.Up.RateBitsPerSecond
	if rate <= 0 {
		return 0
	}
	sndbuf := p.Socket.SendBufferBytes
	if sndbuf <= 0 {
		sndbuf = netmodel.DefaultSendBufferBytes
	}
	segs := p.Socket.MaxSegments
	if segs <= 0 {
		segs = netmodel.DefaultMaxSegments
	}
	largest := MaxControlBytes
	for _, l := range s.Loads {
		if l.From == i {
			largest = max(largest, l.Size)
		}
	}
	batch := min(gso.MaxBytesIPv4, segs*largest)
	m := s.MinDataDatagram(i)
	ahead := sndbuf + batch
	if b := s.KernelDataBudget; b > 0 {
		// The budget is its floor or what drains within the target delay
		// at the rate the pump measures, which can run ahead of the link
		// by one datagram per sample (2 ms or more): three in 5 ms.
		byRate := int(int64(pump.DefaultConfig().KernelTargetDelay)*(rate/8)/int64(time.Second)) + 3*largest
		ahead = min(ahead, max(b, byRate)+largest)
	}
	data := int64(ahead) + netmodel.HeaderBytesIPv4*int64(ahead/m+1)
	control := int64(ControlAheadMax+1) * (MaxControlBytes + netmodel.HeaderBytesIPv4)
	return time.Duration(8 * (data + control) * int64(time.Second) / rate)
}

// Control traffic assumptions of ControlDelayBound.
const (
	// MaxControlBytes is more than any Control datagram peerlink sends: a
	// Binding request with USERNAME, PRIORITY, ICE-CONTROLLING,
	// USE-CANDIDATE, MESSAGE-INTEGRITY and FINGERPRINT is about 100 bytes.
	MaxControlBytes = 256
	// ControlAheadMax is the most Control datagrams that sit in a socket's
	// send buffer at once.
	ControlAheadMax = 64
)

// DetectSlack is how late a cut can still be noticed beyond the
// configured probe timeout: the last answer a side hears may have been on
// its way when the links went down. It is every access link's latency,
// jitter and reorder hold, plus the drain time of each downlink's
// bottleneck queue (a rated link queues forwarded packets).
func DetectSlack(s *Spec) time.Duration {
	var d time.Duration
	for _, p := range s.Peers {
		for _, l := range []netmodel.LinkConfig{p.Link.Up, p.Link.Down} {
			d += l.Latency + l.Jitter + l.ReorderDelay
		}
		if down := p.Link.Down; down.RateBitsPerSecond > 0 {
			q := down.QueueBytes
			if q <= 0 {
				q = netmodel.DefaultLinkQueueBytes
			}
			d += time.Duration(int64(q+2*MaxControlBytes) * 8 * int64(time.Second) / down.RateBitsPerSecond)
		}
	}
	return d + time.Millisecond
}
