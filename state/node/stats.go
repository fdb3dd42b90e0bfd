package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// ConnStats is a snapshot of one connection, for metrics and logs. Every
// counter only grows while the connection lives; a new Connect that
// restarts ICE for the ID starts from zero.
type ConnStats struct {
	// Path is the selected path, valid while Connected.
	Path      Path
	Connected bool
	// Failed is why the connection failed, 0 while it has not.
	Failed FailReason
	// ICE holds the agent's counters: checks, retransmissions, probes and,
	// where the agent measures them, round-trip times and answered probes.
	ICE ice.Stats
	// Application datagrams and their payload bytes each way, as the
	// application sees them (no relay framing).
	DatagramsSent, BytesSent         uint64
	DatagramsReceived, BytesReceived uint64
	// PendingDropped counts Sends refused with ErrPendingFull.
	PendingDropped uint64
	// Dropped counts inbound datagrams routed to this connection and then
	// dropped, by DropReason (bad integrity, wrong USERNAME, a response from
	// the wrong source, data after failure...). Drops that name no
	// connection are only in Stats.Dropped.
	Dropped [NumDropReasons]uint64
	// Relay is the server of the relay the connection uses, if any.
	Relay netip.AddrPort
}

// RelayStats is a snapshot of one relay.
type RelayStats struct {
	Server netip.AddrPort
	// State is the allocation's state; Relayed the relayed address,
	// Additional a dual-stack allocation's address of the other family,
	// and Lifetime what the server granted, while allocated.
	State      turn.State
	Relayed    netip.AddrPort
	Additional netip.AddrPort
	Lifetime   time.Duration
	// Client holds the TURN client's counters: refreshes, stale nonces,
	// reallocations, retransmissions, drops by reason.
	Client turn.Stats
	// SendErrors counts datagrams, permissions and channels this relay's
	// client refused (part of Stats.RelaySendErrors).
	SendErrors uint64
	// RTT is the smoothed round trip to the server (0 until measured):
	// connections prefer relays within 1.5 times the best (relaychoice.go).
	RTT time.Duration
	// Losses counts the relay's losses since its last allocation; while
	// State is lost, the Node starts it again at RetryAt.
	Losses  int
	RetryAt time.Time
	// Conns is how many live connections use the relay.
	Conns int
}

// connCounters are the per-connection counters the Node keeps itself.
type connCounters struct {
	datagramsSent, bytesSent         uint64
	datagramsReceived, bytesReceived uint64
	pendingDropped                   uint64
	dropped                          [NumDropReasons]uint64
}

func (s *connCounters) sent(n int) {
	s.datagramsSent++
	s.bytesSent += uint64(n)
}

func (s *connCounters) received(n int) {
	s.datagramsReceived++
	s.bytesReceived += uint64(n)
}

// ConnStats returns a snapshot of connection id.
func (n *Node) ConnStats(id ConnID) (ConnStats, bool) {
	c, ok := n.conns[id]
	if !ok {
		return ConnStats{}, false
	}
	s := ConnStats{
		Connected: c.connected, Failed: c.failed, ICE: c.agent.Stats(),
		DatagramsSent: c.stats.datagramsSent, BytesSent: c.stats.bytesSent,
		DatagramsReceived: c.stats.datagramsReceived, BytesReceived: c.stats.bytesReceived,
		PendingDropped: c.stats.pendingDropped, Dropped: c.stats.dropped,
	}
	if c.connected {
		s.Path = c.path
	}
	if c.relay != nil {
		s.Relay = c.relay.server
	}
	return s, true
}

// RelayStats returns a snapshot of the relay on server.
func (n *Node) RelayStats(server netip.AddrPort) (RelayStats, bool) {
	r := n.relayByServer(stunmsg.Unmap(server))
	if r == nil {
		return RelayStats{}, false
	}
	s := RelayStats{Server: r.server, State: r.client.State(), Client: r.client.Stats(),
		SendErrors: r.sendErrors, Lifetime: r.client.Lifetime(), Losses: r.losses, RetryAt: r.retryAt}
	if a, ok := r.client.Relayed(); ok {
		s.Relayed = a
	}
	s.Additional, _ = r.client.Additional()
	s.RTT, _ = r.client.RTT()
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == r && c.failed == 0 {
			s.Conns++
		}
		return true
	})
	return s, true
}

// dropFor counts a drop of a datagram that was routed to c.
func (n *Node) dropFor(c *conn, r DropReason) {
	n.drop(r)
	c.stats.dropped[r]++
}

// relayError counts something relay r's client refused.
func (n *Node) relayError(r *relay) {
	n.stats.RelaySendErrors++
	r.sendErrors++
}

// maxRoutes bounds the application-data routes of one connection: one per
// pair the agent may hold.
func (n *Node) maxRoutes() int {
	return n.cfg.ICE.MaxLocalCandidates * n.cfg.ICE.MaxRemoteCandidates
}
