package drivers

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// The Node's commands a program needs beyond Connect, Send and Close, so
// that it never has to reach into Do and the pump. Each runs on the
// driver's goroutine and returns the Node's error.

// AddRelay allocates on the TURN server at server, from the local address
// local (the socket's), with the long-term credentials; the relayed
// address becomes a candidate of every connection (CandidateGathered).
// See node.Node.AddRelay for the options.
func (d *Driver) AddRelay(ctx context.Context, server, local netip.AddrPort, username, password string, opts ...node.RelayOption) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		if err := p.Node().AddRelay(now, server, local, username, password, opts...); err != nil {
			return err
		}
		// Over TLS this relay dials with the defaults, not what an
		// earlier AddRelayConfig for the same server chose.
		d.streams.forgetTLS(server)
		return nil
	})
}

// RemoveRelay releases the allocation on server; its candidates are
// withdrawn (CandidateWithdrawn) and connections on it move or fail.
func (d *Driver) RemoveRelay(ctx context.Context, server netip.AddrPort) error {
	// A TLS relay's configuration stays (drivers/relay.go, setTLS): the
	// release still goes over its stream, which may have to dial again.
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().RemoveRelay(now, server) })
}

// AddStunServer asks server for our server-reflexive address, which
// becomes a candidate of every connection.
func (d *Driver) AddStunServer(ctx context.Context, server netip.AddrPort) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().AddStunServer(now, server) })
}

// RemoveRemoteCandidate takes back a candidate the peer withdrew
// (CandidateWithdrawn on its side).
func (d *Driver) RemoveRemoteCandidate(ctx context.Context, id node.ConnID, addr netip.AddrPort) error {
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error { return p.Node().RemoveRemoteCandidate(now, id, addr) })
}

// NewCredentials returns fresh ICE credentials drawn from crypto/rand: the
// ufrag and password a side offers to its peer before either calls
// Connect. Each side sends its own over signalling and connects with both.
func NewCredentials() (node.Credentials, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return node.Credentials{}, fmt.Errorf("drivers: credentials: %w", err)
	}
	return ice.NewCredentials(rand.New(rand.NewChaCha8(seed))), nil
}
