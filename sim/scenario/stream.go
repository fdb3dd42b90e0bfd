package scenario

import (
	"time"

	"github.com/peerlink/peerlink/sim/host"
	"github.com/peerlink/peerlink/state/node"
)

// streamTo connects h to the near relay over a modelled stream when the
// Spec asks for TCP or TLS, and returns the AddRelay option that makes the
// Node use it. The stream's one-way latency is the peer's uplink latency,
// the relay's own link being ideal, and it drains at the uplink's rate
// (the stream's traffic does not share the link with the socket's: a
// simplification); the server sees the client at its
// socket's address. Without a stream transport it does nothing.
func (r *run) streamTo(h *host.Host, p PeerSpec) []node.RelayOption {
	if !r.spec.RelayTransport.Stream() {
		return nil
	}
	server, local := r.relay.Addr(), h.LocalAddr()
	st := r.relay.NewStream(local, p.Link.Up.Latency, p.Link.Up.RateBitsPerSecond,
		func(now time.Time, msg []byte) { h.HandleStream(now, server, local, msg) },
		func(now time.Time) { h.StreamReset(now, server) },
		func() bool { return !h.Net().Up().Down() && !h.Net().Down().Down() })
	h.AddStream(server, st)
	r.streams = append(r.streams, st)
	return []node.RelayOption{node.WithTransport(r.spec.RelayTransport)}
}
