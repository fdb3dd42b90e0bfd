package host

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// StreamWriter takes the bytes a host writes on its stream to a relay
// server (a TURN message, framed for a stream); sim/relay's Stream is one.
// Write reports false when the stream's buffer is full; WritableAt says
// when to try again.
type StreamWriter interface {
	Write(now time.Time, b []byte) bool
	WritableAt(now time.Time) time.Time
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
	h.depth--
	h.settle(now)
}

// StreamReset tells the host's Node that the stream to server was opened
// again after it broke (node.Node.RelayStreamReset), as the driver does.
func (h *Host) StreamReset(now time.Time, server netip.AddrPort) {
	_ = h.Do(func(now time.Time, n *node.Node) error { return n.RelayStreamReset(now, server) })
}

// flushStreams writes the pump's stream transmits on their streams; what
// a full stream refuses waits in the pump (whose bound then refuses Data,
// back-pressure to the application), the other streams go on, and a wake
// is set for when the first full stream has room.
func (h *Host) flushStreams(now time.Time) {
	var wake time.Time
	h.pump.FlushStreams(func(t node.Transmit) bool {
		w := h.streamWriter(t.Dst)
		if w == nil {
			h.stats.StreamDropped++
			return true
		}
		if w.Write(now, t.Payload) {
			return true
		}
		at := w.WritableAt(now)
		if !at.After(now) {
			at = now.Add(time.Millisecond)
		}
		if wake.IsZero() || at.Before(wake) {
			wake = at
		}
		return false
	})
	if wake.IsZero() {
		return
	}
	if h.streamTimer == nil {
		h.streamTimer = h.w.NewTimer(h.nh.Name()+"/stream-writable", h.onStreamWritable)
	}
	if cur, pending := h.streamTimer.When(); !pending || wake.Before(cur) {
		h.streamTimer.Reset(wake)
	}
}

// onStreamWritable writes what waited for a stream, and tells an
// application refused for it that it may send again.
func (h *Host) onStreamWritable(now time.Time) {
	h.depth++
	h.stats.Wakes++
	h.pump.StreamRoom()
	h.flushStreams(now)
	if h.owed && h.pump.Writable() {
		h.owed = false
		h.stats.AppWritable++
		for _, fn := range h.onWritable {
			fn(now)
		}
	}
	h.depth--
	h.settle(now)
}

func (h *Host) streamWriter(server netip.AddrPort) StreamWriter {
	for _, s := range h.streams {
		if s.server == server {
			return s.w
		}
	}
	return nil
}
