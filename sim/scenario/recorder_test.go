package scenario

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
)

// The receiver tells reordering on one path (a fault of the sender or the
// network) from a datagram that was still in flight on the path the
// sender left.
func TestLateDatagramsAreCountedPerPathAndAcrossASwitchApart(t *testing.T) {
	spec := Spec{End: time.Minute, Bucket: time.Second}
	rec := newRecorder(&spec)
	payload := func(seq uint64, path uint8) []byte {
		b := make([]byte, MinPayload)
		traffic.Stamp(b, seq, world.Epoch)
		b[loadTag], b[pathTag] = 0, path
		return b
	}
	now := world.Epoch
	for _, d := range []struct {
		seq  uint64
		path uint8
	}{
		{1, 0}, {2, 0}, {4, 1}, // the switch: 4 goes on path 1 and overtakes 3
		{3, 0},         // late across the switch
		{5, 1}, {2, 0}, // 2 again on path 0: late on its own path
		{6, 1}, {5, 1}, // late on path 1
	} {
		rec.data(now, 1, payload(d.seq, d.path))
	}
	f := rec.recv[1]
	if f.late != 2 || f.lateSwitch != 1 || f.datagrams != 8 {
		t.Fatalf("late %d, across the switch %d, datagrams %d; want 2, 1, 8", f.late, f.lateSwitch, f.datagrams)
	}
}
