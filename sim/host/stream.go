package host

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// StreamWriter takes the bytes a host writes on its stream to a relay
// server (a TURN message, framed for a stream); sim/relay's Stream is one.
type StreamWriter interface {
	Write(now time.Time, b []byte)
}

// AddStream routes the host's transmits to server over a stream transport
// (a relay added with node.WithTransport(TCP or TLS)) to w, as the real
// driver's streams do; without one they are dropped and counted in
// StreamDropped.
func (h *Host) AddStream(server netip.AddrPort, w StreamWriter) {
	h.streams = append(h.streams, hostStream{server: server, w: w})
}

type hostStream struct {
	server netip.AddrPort
	w      StreamWriter
}

// HandleStream is a message read from the stream to server, arriving as a
// datagram from server on local (the relay's local address), as the
// driver hands it to its pump.
func (h *Host) HandleStream(now time.Time, server, local netip.AddrPort, msg []byte) {
	h.depth++
	h.stats.Wakes++
	m := pump.Message{Buf: msg, N: len(msg), Src: server, Dst: local}
	h.pump.HandleMessages(now, []pump.Message{m}, func(id node.ConnID, b []byte) {
		for _, fn := range h.onData {
			fn(now, id, b)
		}
	})
	h.conn.noteEnqueued(now)
	h.depth--
	h.settle(now)
}

// StreamReset tells the host's Node that the stream to server was opened
// again after it broke (node.Node.RelayStreamReset), as the driver does.
func (h *Host) StreamReset(now time.Time, server netip.AddrPort) {
	_ = h.Do(func(now time.Time, n *node.Node) error { return n.RelayStreamReset(now, server) })
}

// flushStreams writes the pump's stream transmits on their streams.
func (h *Host) flushStreams(now time.Time) {
	for {
		t, ok := h.pump.PollStream()
		if !ok {
			return
		}
		h.streamWriter(t.Dst, now, t.Payload)
	}
}

func (h *Host) streamWriter(server netip.AddrPort, now time.Time, b []byte) {
	for _, s := range h.streams {
		if s.server == server {
			s.w.Write(now, b)
			return
		}
	}
	h.stats.StreamDropped++
}
