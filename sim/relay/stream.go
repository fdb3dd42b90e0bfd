package relay

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// Stream models one client's TCP (or TLS) connection to the relay, for
// TURN over a stream (RFC 8656 section 3.1): what the client writes
// arrives in order and whole, after a fixed one-way latency, and so does
// what the server sends back; the relayed leg, from the server to peers,
// stays the relay's UDP socket. The bytes of each direction are cut by
// stunmsg.StreamFramer as a real reader cuts them, so a message that is
// not framed for a stream (ChannelData without padding) breaks the stream
// here too. The model has no loss, no congestion window and no
// head-of-line blocking behind a lost segment: it is what a stream
// promises, not how TCP keeps the promise.
//
// A restart of the relay closes every stream: what was in flight is lost
// and, after a reconnect of one and a half round trips (TCP's handshake),
// the client is told through its onReset, as a driver that dialled again
// tells its Node (node.Node.RelayStreamReset).
type Stream struct {
	r       *Relay
	client  netip.AddrPort // the address the server sees the client at
	latency time.Duration
	deliver func(now time.Time, msg []byte)
	onReset func(now time.Time)
	// gen counts the stream's connections: a delivery scheduled on an
	// earlier one is dropped, as the bytes died with it.
	gen      uint64
	up, down *stunmsg.StreamFramer
	// upAt and downAt are the last arrival times, so that arrivals keep
	// their order.
	upAt, downAt time.Time
	stats        StreamStats
}

// StreamStats counts one stream's traffic.
type StreamStats struct {
	MessagesUp, MessagesDown uint64
	// LostInRestart counts messages in flight when the relay restarted;
	// Corrupt the directions whose bytes lost their framing (the stream
	// then stays broken until the next restart).
	LostInRestart, Corrupt, Resets uint64
}

// NewStream connects a client to the relay over a stream. The server sees
// the client at client (a real server sees the stream's source address);
// deliver gets each message the server sends it, onReset (may be nil) a
// new connection after a restart.
func (r *Relay) NewStream(client netip.AddrPort, latency time.Duration, deliver func(now time.Time, msg []byte),
	onReset func(now time.Time)) *Stream {
	s := &Stream{r: r, client: client, latency: latency, deliver: deliver, onReset: onReset,
		up: stunmsg.NewStreamFramer(), down: stunmsg.NewStreamFramer()}
	r.streams = append(r.streams, s)
	return s
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats { return s.stats }

// Write is the client writing b on the stream (a TURN message, framed).
func (s *Stream) Write(now time.Time, b []byte) {
	s.upAt = s.arrival(now, s.upAt)
	gen, b := s.gen, append([]byte(nil), b...)
	s.r.w.Schedule(s.upAt, s.r.h.Name()+"/stream-up", func(at time.Time) {
		if gen != s.gen {
			s.stats.LostInRestart++
			return
		}
		s.cut(s.up, b, func(msg []byte) {
			s.stats.MessagesUp++
			s.r.srv.HandleDatagram(at, s.client, s.r.listen, msg)
			s.r.collect()
		})
		s.r.flush()
		s.r.arm()
	})
}

// send is the server writing b to the client on the stream.
func (s *Stream) send(now time.Time, b []byte) {
	s.downAt = s.arrival(now, s.downAt)
	gen, b := s.gen, append([]byte(nil), b...)
	s.r.w.Schedule(s.downAt, s.r.h.Name()+"/stream-down", func(at time.Time) {
		if gen != s.gen {
			s.stats.LostInRestart++
			return
		}
		s.cut(s.down, b, func(msg []byte) {
			s.stats.MessagesDown++
			s.deliver(at, msg)
		})
	})
}

// arrival is when bytes written at now arrive: the latency later, never
// before what was written earlier.
func (s *Stream) arrival(now, last time.Time) time.Time {
	at := now.Add(s.latency)
	if at.Before(last) {
		at = last
	}
	return at
}

// cut feeds b through f and hands on each whole message.
func (s *Stream) cut(f *stunmsg.StreamFramer, b []byte, fn func(msg []byte)) {
	for len(b) > 0 {
		space := f.Space()
		if len(space) == 0 {
			s.stats.Corrupt++
			return
		}
		n := copy(space, b)
		f.Filled(n)
		b = b[n:]
		for {
			msg, err := f.Next()
			if err != nil {
				s.stats.Corrupt++
				return
			}
			if msg == nil {
				break
			}
			fn(msg)
		}
	}
}

// reset closes the stream's connection at a restart and opens the next
// one a handshake later.
func (s *Stream) reset(now time.Time) {
	s.gen++
	s.up, s.down = stunmsg.NewStreamFramer(), stunmsg.NewStreamFramer()
	s.stats.Resets++
	at := now.Add(3 * s.latency)
	s.upAt, s.downAt = at, at
	if s.onReset != nil {
		s.r.w.Schedule(at, s.r.h.Name()+"/stream-reset", s.onReset)
	}
}

// streamTo returns the stream of the client at addr, if it has one.
func (r *Relay) streamTo(addr netip.AddrPort) *Stream {
	for _, s := range r.streams {
		if s.client == addr {
			return s
		}
	}
	return nil
}
