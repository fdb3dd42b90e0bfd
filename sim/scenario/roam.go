package scenario

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// This file holds the networks that change under a running connection
// (Spec.Changes): a NAT that rebinds, an uplink that fails over to a second
// ISP, a peer that moves to another network. Each change is timed, and the
// recorder measures the gap it leaves in each side's delivery (roamData).

// NetChangeKind is what happens to a peer's network.
type NetChangeKind uint8

const (
	// NATRebind: the peer's NAT forgets its bindings; the peer's next
	// packets leave from new external ports. Nobody tells the program.
	NATRebind NetChangeKind = iota + 1
	// UplinkFailover: the peer's NAT moves to another ISP: a new public
	// address, and every binding gone. Nobody tells the program.
	UplinkFailover
	// Move: the peer leaves its network for another one behind another
	// NAT (Wi-Fi to LTE), with a new private address. Its program learns
	// of it, as from the OS, and calls MoveLocalAddress.
	Move
	// NumNetChangeKinds sizes tables indexed by kind.
	NumNetChangeKinds
)

func (k NetChangeKind) String() string {
	switch k {
	case NATRebind:
		return "nat-rebind"
	case UplinkFailover:
		return "uplink-failover"
	case Move:
		return "move"
	}
	return "invalid"
}

// Signalled reports whether the program learns of the change and calls the
// Node (the tighter bound applies: one probe interval plus two round
// trips); otherwise only the traffic shows it (under the probe
// timeout).
func (k NetChangeKind) Signalled() bool { return k == Move }

// NetChange is one change of a peer's network at At since the epoch. The
// peer must sit behind a NAT.
type NetChange struct {
	At   time.Duration
	Peer int
	Kind NetChangeKind
}

// NetChangeResult is what a change cost: Gap[i] is the longest time side
// i received no application datagram, from the change until the next one
// (or the end); Healed[i] false: none came at all.
type NetChangeResult struct {
	NetChange
	Gap    [2]time.Duration
	Healed [2]bool
}

// Addresses a change moves to: a second public address per NAT (the other
// ISP), and a second network per peer.
var (
	failoverAddr = [2]netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")}
	movedNATAddr = [2]netip.Addr{netip.MustParseAddr("198.51.100.21"), netip.MustParseAddr("198.51.100.22")}
	movedLANAddr = [2]netip.Addr{netip.MustParseAddr("10.20.1.2"), netip.MustParseAddr("10.20.2.2")}
)

// maxChanges bounds Spec.Changes.
const maxChanges = 16

func (s *Spec) validateChanges() error {
	if len(s.Changes) > maxChanges {
		return fmt.Errorf("%w: %d network changes", ErrSpec, len(s.Changes))
	}
	var moved [2][NumNetChangeKinds]bool
	for i, c := range s.Changes {
		switch {
		case c.Kind < NATRebind || c.Kind > Move:
			return fmt.Errorf("%w: change %d kind %d", ErrSpec, i, c.Kind)
		case c.Peer != 0 && c.Peer != 1 || s.Peers[c.Peer].NAT == nil:
			return fmt.Errorf("%w: change %d: peer %d is behind no NAT", ErrSpec, i, c.Peer)
		case c.At <= 0 || c.At >= s.End:
			return fmt.Errorf("%w: change %d at %v", ErrSpec, i, c.At)
		case c.Kind != NATRebind && moved[c.Peer][c.Kind]:
			// Each has one address to go to (failoverAddr, movedLANAddr).
			return fmt.Errorf("%w: change %d: one failover and one move per peer at most", ErrSpec, i)
		}
		moved[c.Peer][c.Kind] = true
	}
	return nil
}

// scheduleChanges puts the spec's changes on the world's clock.
func (r *run) scheduleChanges() {
	for i, c := range r.spec.Changes {
		r.w.Schedule(world.Epoch.Add(c.At), "network/"+c.Kind.String(), func(now time.Time) {
			r.rec.netChange(now, i)
			if err := r.change(c); err != nil {
				panic("scenario: network change: " + err.Error()) // validated
			}
		})
	}
}

func (r *run) change(c NetChange) error {
	h := r.hosts[c.Peer]
	switch c.Kind {
	case NATRebind:
		return h.Net().NAT().Rebind(netip.Addr{})
	case UplinkFailover:
		return h.Net().NAT().Rebind(failoverAddr[c.Peer])
	}
	nat, err := r.net.AddNAT(h.Name()+"-nat2", movedNATAddr[c.Peer], *r.spec.Peers[c.Peer].NAT)
	if err != nil {
		return err
	}
	old := h.LocalAddr()
	if err := h.Net().Move(nat, movedLANAddr[c.Peer]); err != nil {
		return err
	}
	// As a driver's MoveLocalAddress does: what is queued from the old
	// address cannot leave any more.
	return h.Do(func(now time.Time, n *node.Node) error {
		err := n.MoveLocalAddress(now, old, h.LocalAddr())
		h.DropFrom(old)
		return err
	})
}

// netChange notes that change i happened at now.
func (rec *recorder) netChange(now time.Time, i int) {
	rec.changed[i] = now
}

// roamData notes an application datagram side received at now. A change's
// gap is the longest silence in delivery from the change until the next
// change (or the end): the first datagrams after it may have been in
// flight before it, so the first arrival alone says nothing.
func (rec *recorder) roamData(now time.Time, side int) {
	for i, at := range rec.changed {
		if at.IsZero() || !now.After(at) || i+1 < len(rec.changed) && !rec.changed[i+1].IsZero() {
			continue
		}
		from := maxTime(at, rec.lastRecv[side])
		rec.gaps[i][side] = max(rec.gaps[i][side], now.Sub(from))
		rec.healed[i][side] = true
	}
	rec.lastRecv[side] = now
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// netChangeResults is what the recorder measured for each change.
func (rec *recorder) netChangeResults() []NetChangeResult {
	out := make([]NetChangeResult, len(rec.spec.Changes))
	for i, c := range rec.spec.Changes {
		out[i] = NetChangeResult{NetChange: c, Gap: rec.gaps[i], Healed: rec.healed[i]}
	}
	return out
}

func writeNetChanges(w io.Writer, res *Result) {
	for _, c := range res.NetChanges {
		fmt.Fprintf(w, "  %s of %s at %v; longest gap in delivery after it:", c.Kind, res.Peers[c.Peer].Name, c.At)
		for i, p := range res.Peers {
			if c.Healed[i] {
				fmt.Fprintf(w, " %s %.3f s", p.Name, c.Gap[i].Seconds())
			} else {
				fmt.Fprintf(w, " %s never", p.Name)
			}
		}
		fmt.Fprintln(w)
	}
}

const aboutRoam = "two peers behind endpoint-independent NATs and a relay, a constant load both ways; " +
	"after 30 s bob's NAT rebinds (new ports), after 60 s alice's uplink fails over to a second ISP " +
	"(new public address), after 90 s bob moves to another network behind another NAT and tells his Node; " +
	"the connection must follow each change without failing"

func roam(seed uint64) Spec {
	load := func(from int) LoadSpec {
		return LoadSpec{Kind: Constant, From: from, Size: 200, Interval: 20 * time.Millisecond, Start: time.Second}
	}
	return Spec{
		Seed:             seed,
		Peers:            twoPeers(eiNAT),
		Relay:            true,
		Loads:            []LoadSpec{load(0), load(1)},
		KernelDataBudget: pump.DefaultConfig().KernelDataBudget,
		Changes: []NetChange{
			{At: 30 * time.Second, Peer: 1, Kind: NATRebind},
			{At: 60 * time.Second, Peer: 0, Kind: UplinkFailover},
			{At: 90 * time.Second, Peer: 1, Kind: Move},
		},
		End: 2 * time.Minute,
	}
}
