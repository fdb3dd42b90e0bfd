package scenario

import (
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/state/node"
)

// streamTo connects h to the near relay over a modelled stream when the
// Spec asks for TCP or TLS, and returns the AddRelay option that makes the
// Node use it. The stream's one-way latency is the peer's uplink latency,
// the relay's own link being ideal; the server sees the client at its
// socket's address. Without a stream transport it does nothing.
func (r *run) streamTo(h *host.Host, p PeerSpec) []node.RelayOption {
	if !r.spec.RelayTransport.Stream() {
		return nil
	}
	server, local := r.relay.Addr(), h.LocalAddr()
	st := r.relay.NewStream(local, p.Link.Up.Latency,
		func(now time.Time, msg []byte) { h.HandleStream(now, server, local, msg) },
		func(now time.Time) { h.StreamReset(now, server) })
	h.AddStream(server, st)
	r.streams = append(r.streams, st)
	return []node.RelayOption{node.WithTransport(r.spec.RelayTransport)}
}
