package scenario

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
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
		// 9 on path 2 overtakes 8 and 7 of path 1; 8 is late across the
		// switch, and 7, overtaken by 8 on its own path, is late on it.
		{9, 2}, {8, 1}, {7, 1},
	} {
		rec.data(now, 1, payload(d.seq, d.path))
	}
	f := rec.recv[1]
	if f.late != 3 || f.lateSwitch != 2 || f.datagrams != 11 {
		t.Fatalf("late %d, across the switch %d, datagrams %d; want 3, 2, 11", f.late, f.lateSwitch, f.datagrams)
	}
}

// The path number a sender stamps changes with every Connected and
// PathChanged of its own side, and only then.
func TestThePathNumberChangesWithEveryNewPathOfTheSide(t *testing.T) {
	spec := Spec{End: time.Minute, Bucket: time.Second}
	rec := newRecorder(&spec)
	now := world.Epoch
	want := [2]uint8{}
	for _, e := range []struct {
		side int
		ev   node.Event
		new  bool
	}{
		{0, node.Connected{Conn: ConnID}, true},
		{1, node.Connected{Conn: ConnID}, true},
		{0, node.RoleChanged{Conn: ConnID}, false},
		{0, node.PathChanged{Conn: ConnID}, true},
		{1, node.Failed{Conn: ConnID, Reason: node.ProbeTimeout}, false},
		{1, node.Connected{Conn: ConnID}, true},
	} {
		rec.change(now, e.side, e.ev)
		if e.new {
			want[e.side]++
		}
		if got := [2]uint8{rec.path(0), rec.path(1)}; got != want {
			t.Fatalf("after %v on side %d: path numbers %v, want %v", e.ev, e.side, got, want)
		}
	}
}
