package drivers

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// This file holds what a program calls when the network changes under a
// running Driver (see the README, "Embedding it"): an address went away,
// the socket must move to a new port or interface.

// RemoveLocalAddress unregisters an address the socket no longer has (the
// interface went down, the Wi-Fi is gone). Its host and server-reflexive
// candidates are withdrawn (CandidateWithdrawn: signal each to the peer),
// a relay allocated from it is lost (RelayFailed), and connections on
// it move to another path (PathChanged) or check for one. See
// node.Node.RemoveLocalAddress.
func (d *Driver) RemoveLocalAddress(ctx context.Context, addr netip.AddrPort) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		err := p.Node().RemoveLocalAddress(now, addr)
		p.DropFrom(addr)
		return err
	})
}

// MoveLocalAddress tells the Node that what it knew as from is now to (the
// same socket, rebound by the OS or behind a changed interface address).
// Relays allocated from from are allocated again from to. See
// node.Node.MoveLocalAddress.
func (d *Driver) MoveLocalAddress(ctx context.Context, from, to netip.AddrPort) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		err := p.Node().MoveLocalAddress(now, from, to)
		if from != to {
			p.DropFrom(from)
		}
		return err
	})
}

// AddressMove is one local address a Rebind replaces: the old socket's From
// becomes the new socket's To.
type AddressMove struct{ From, To netip.AddrPort }

// Rebind replaces the driver's Conn with c while it runs, keeping every
// connection and relay: each move is applied as MoveLocalAddress (the new
// address registered, relays allocated again from it, the old one's
// candidates withdrawn and its connections moved onto new pairs), then the
// old Conn is closed and c takes over both directions. Run closes c when
// it ends. wireguard-go reopening its Bind, or a program that binds a
// fresh socket after a network change, calls this instead of starting
// over. The old Conn is closed even if a move fails; the error says which.
func (d *Driver) Rebind(ctx context.Context, c pump.Conn, moves ...AddressMove) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		var err error
		for _, m := range moves {
			if e := p.Node().MoveLocalAddress(now, m.From, m.To); e != nil && err == nil {
				err = e
			}
			if m.From != m.To {
				// Same address (a socket rebound to its old port): what
				// is queued from it still leaves, on the new socket.
				p.DropFrom(m.From)
			}
		}
		old := d.roam.rx
		d.mu.Lock() // the sending goroutine reads it for each round
		d.conn = c
		d.mu.Unlock()
		p.SetConn(c)
		d.startReceiver()
		old.retired.Store(true)
		old.conn.Close()
		return err
	})
}

// roamState is what Rebind needs of the running loop: the receive
// goroutine of the current Conn, and where receivers report. Run sets wg
// and errs before starting the first receiver; only the loop's goroutine
// touches it.
type roamState struct {
	rx   *receiver
	wg   *sync.WaitGroup
	errs chan error
}

// receiver is the goroutine reading one Conn.
type receiver struct {
	conn    pump.Conn
	retired atomic.Bool
}

// startReceiver starts the receive goroutine of d.conn. Its end is
// reported to the loop (a receive error stops Run), unless Rebind retired
// it: closing the old Conn ends its Recv with an error that means nothing.
func (d *Driver) startReceiver() {
	r := &receiver{conn: d.conn}
	d.roam.rx = r
	d.roam.wg.Add(1)
	go func() {
		defer d.roam.wg.Done()
		err := d.receive(r.conn)
		if r.retired.Load() {
			return
		}
		select {
		case d.roam.errs <- err:
		case <-d.done:
		}
	}()
}

// RestartICE restarts ICE on connection id while the path it has keeps
// carrying the data; see node.Node.RestartICE for the exchange of
// credentials it takes (zero remote: draw ours to signal; the peer's:
// start checking). The new path arrives as PathChanged.
func (d *Driver) RestartICE(ctx context.Context, id node.ConnID, remote node.Credentials) (node.Credentials, error) {
	var creds node.Credentials
	err := d.Do(ctx, func(now time.Time, p *pump.Pump) (err error) {
		creds, err = p.Node().RestartICE(now, id, remote)
		return err
	})
	return creds, err
}
