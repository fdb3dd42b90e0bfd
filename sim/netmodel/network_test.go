package netmodel

import (
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

func TestAOneWayPartitionBlocksOnlyItsDirectionUntilHealed(t *testing.T) {
	p := newPair(t, 12, LinkConfig{})
	var back sink
	back.attach(p.sa)
	from, to := netip.PrefixFrom(addrA, 32), netip.PrefixFrom(addrB, 32)
	p.n.PartitionDuring(Partition{From: from, To: to}, false, world.Epoch.Add(10*time.Millisecond), world.Epoch.Add(20*time.Millisecond))
	for i := 0; i < 30; i++ {
		seq := uint64(i)
		p.w.After(time.Duration(i)*time.Millisecond, "app", func(time.Time) {
			p.sa.WriteTo(payload(seq, 10), p.sb.LocalAddr())
			p.sb.WriteTo(payload(seq, 10), p.sa.LocalAddr())
		})
	}
	p.w.RunUntilIdle(10000)
	if len(p.recv.got) != 20 {
		t.Errorf("a->b delivered %d, want 20 (10 blocked)", len(p.recv.got))
	}
	if len(back.got) != 30 {
		t.Errorf("b->a delivered %d, want all 30", len(back.got))
	}
}

func TestATwoWayPartitionBlocksBothDirections(t *testing.T) {
	p := newPair(t, 13, LinkConfig{})
	var back sink
	back.attach(p.sa)
	id := p.n.Block(Partition{From: netip.PrefixFrom(addrA, 32), To: netip.PrefixFrom(addrB, 32)}, true)
	p.sa.WriteTo(payload(1, 10), p.sb.LocalAddr())
	p.sb.WriteTo(payload(1, 10), p.sa.LocalAddr())
	p.w.RunUntilIdle(100)
	if len(p.recv.got)+len(back.got) != 0 {
		t.Fatal("a packet crossed a two-way partition")
	}
	p.n.Heal(id)
	p.sa.WriteTo(payload(2, 10), p.sb.LocalAddr())
	p.sb.WriteTo(payload(2, 10), p.sa.LocalAddr())
	p.w.RunUntilIdle(100)
	if len(p.recv.got) != 1 || len(back.got) != 1 {
		t.Fatal("healing did not restore both directions")
	}
	if p.w.Trace().Count(world.KindDrop, DropPartition) != 2 {
		t.Fatal("partition drops not traced")
	}
}

func TestPacketsToUnknownAddressesAndPortsAreDroppedByReason(t *testing.T) {
	p := newPair(t, 14, LinkConfig{})
	p.sa.WriteTo([]byte{1}, netip.MustParseAddrPort("203.0.113.99:1"))
	p.sa.WriteTo([]byte{1}, netip.AddrPortFrom(addrB, 9))
	p.w.RunUntilIdle(100)
	tr := p.w.Trace()
	if tr.Count(world.KindDrop, DropNoRoute) != 1 || tr.Count(world.KindDrop, DropPortUnreachable) != 1 {
		t.Fatalf("counts %v", tr.Counts())
	}
}
