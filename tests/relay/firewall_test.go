package relay_test

import (
	"net/netip"
	"sync/atomic"

	"github.com/peerlink/peerlink/drivers/linux"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/pump"
)

// firewall is a linux.Conn that drops everything to and from one address:
// the other node's socket. Withholding host candidates in signalling is not
// enough on loopback, because checks arriving through the relay reveal the
// peer's host address (a peer-reflexive candidate) and ICE pairs it with
// ours; a firewall blocks the direct path for real, as between two
// symmetric NATs, while the relay stays reachable.
type firewall struct {
	*linux.Conn
	blocked atomic.Pointer[netip.AddrPort]
	// only, when set, is the one address let through (a relay-only peer,
	// as behind a symmetric NAT whose peer is too: it reaches its TURN
	// server and nothing else, not even the peer's relayed address).
	only    atomic.Pointer[netip.AddrPort]
	dropped atomic.Int64
}

func (f *firewall) block(a netip.AddrPort) { f.blocked.Store(&a) }

func (f *firewall) allowOnly(a netip.AddrPort) { f.only.Store(&a) }

func (f *firewall) isBlocked(a netip.AddrPort) bool {
	if o := f.only.Load(); o != nil && *o != a {
		return true
	}
	b := f.blocked.Load()
	return b != nil && *b == a
}

// Send drops batches to the blocked address, reporting them as taken so
// the queue moves on, and hands the rest to the socket in order.
func (f *firewall) Send(batches []*gso.Batch) (int, error) {
	total := 0
	for _, b := range batches {
		segs := b.Segments()
		if f.isBlocked(b.Dst()) {
			f.dropped.Add(int64(segs))
			total += segs
			continue
		}
		n, err := f.Conn.Send([]*gso.Batch{b})
		total += n
		if err != nil || n < segs {
			return total, err
		}
	}
	return total, nil
}

// Recv drops datagrams from the blocked address.
func (f *firewall) Recv(msgs []pump.Message) (int, error) {
	for {
		n, err := f.Conn.Recv(msgs)
		if err != nil {
			return n, err
		}
		kept := 0
		for i := range n {
			if f.isBlocked(msgs[i].Src) {
				f.dropped.Add(1)
				continue
			}
			msgs[kept], msgs[i] = msgs[i], msgs[kept]
			kept++
		}
		if kept > 0 {
			return kept, nil
		}
	}
}
