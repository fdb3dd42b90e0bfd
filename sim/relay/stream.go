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
// The client's side drains at its uplink's rate (rateBits, 0: at once)
// and holds at most streamBufferDelay of it (never below
// streamBufferMin): a full stream refuses a write (Write returns false),
// which the host leaves in its pump, whose bound pushes back on the
// application, as a TCP socket's send buffer does. Kept short, so that a
// probe written next waits little behind data it cannot overtake.
//
// A client whose network is down (carries false: a cut access link) loses
// its stream too: what arrives in the meantime is lost with the
// connection, and a new one opens, with onReset, once the network is back
// (checked every streamRedial), as a driver's re-dial would.
//
// A restart of the relay closes every stream: what was in flight is lost
// and, after a reconnect of one and a half round trips (TCP's handshake),
// the client is told through its onReset, as a driver that dialled again
// tells its Node (node.Node.RelayStreamReset).
//
// Bytes that lose their framing (in either direction) close the
// connection too, since a stream cannot resynchronise: the driver's reader
// gives up on such bytes from the server, and a server closes a
// connection that sends it such bytes. What was in flight is lost, and the
// client dials again streamRedialMin later (the driver's first wait),
// then a handshake, then onReset, as after a restart. What the client
// writes meanwhile waits for the new connection, as in the driver's queue.
type Stream struct {
	r       *Relay
	client  netip.AddrPort // the address the server sees the client at
	latency time.Duration
	deliver func(now time.Time, msg []byte)
	onReset func(now time.Time)
	carries func() bool
	// waiting: the stream broke with the client's network and waits for
	// it to come back.
	waiting bool
	// gen counts the stream's connections: a delivery scheduled on an
	// earlier one is dropped, as the bytes died with it.
	gen      uint64
	up, down *stunmsg.StreamFramer
	// upAt and downAt are the last arrival times, so that arrivals keep
	// their order.
	upAt, downAt time.Time
	// rateBits drains the client's writes; departAt is when the last
	// byte written leaves the client.
	rateBits int64
	departAt time.Time
	stats    StreamStats
}

// Bounds of the client's send buffer, and why: 25 ms at the uplink's
// rate is the pump's delay bound on queued Data, so a probe waits about as
// long as over UDP; 16 KiB lets a slow link still carry a few datagrams
// per write.
const (
	streamBufferDelay = 25 * time.Millisecond
	streamBufferMin   = 16 << 10
)

// buffered is the bytes written and not yet departed at now.
func (s *Stream) buffered(now time.Time) int {
	if s.rateBits <= 0 || !s.departAt.After(now) {
		return 0
	}
	return int(s.departAt.Sub(now).Seconds() * float64(s.rateBits) / 8)
}

func (s *Stream) bufferBound() int {
	return max(streamBufferMin, int(streamBufferDelay.Seconds()*float64(s.rateBits)/8))
}

// WritableAt is when the client's buffer will be down to half its bound:
// a host refused by Write tries again then.
func (s *Stream) WritableAt(now time.Time) time.Time {
	excess := s.buffered(now) - s.bufferBound()/2
	if excess <= 0 || s.rateBits <= 0 {
		return now
	}
	return now.Add(time.Duration(float64(excess) * 8 / float64(s.rateBits) * float64(time.Second)))
}

// StreamStats counts one stream's traffic.
type StreamStats struct {
	MessagesUp, MessagesDown uint64
	// LostInRestart counts writes lost with a connection (the relay
	// restarted, the client's network went down, or the bytes lost their
	// framing); Corrupt the connections closed because the bytes of a
	// direction lost their framing (a new one opens, as after a restart);
	// Resets the new connections; Breaks the connections lost with the
	// client's network.
	LostInRestart, Corrupt, Resets, Breaks uint64
}

// streamRedial is how often a stream broken with its client's network
// checks whether the network is back; streamRedialMin is the driver's wait
// before it dials again a stream that broke (drivers/streams.go).
const (
	streamRedial    = time.Second
	streamRedialMin = 100 * time.Millisecond
)

// NewStream connects a client to the relay over a stream. The server sees
// the client at client (a real server sees the stream's source address);
// deliver gets each message the server sends it, onReset (may be nil) a
// new connection after a break; carries (nil: always) says whether the
// client's network is up.
func (r *Relay) NewStream(client netip.AddrPort, latency time.Duration, rateBits int64, deliver func(now time.Time, msg []byte),
	onReset func(now time.Time), carries func() bool) *Stream {
	if carries == nil {
		carries = func() bool { return true }
	}
	s := &Stream{r: r, client: client, latency: latency, rateBits: rateBits, deliver: deliver, onReset: onReset, carries: carries,
		up: stunmsg.NewStreamFramer(), down: stunmsg.NewStreamFramer()}
	r.streams = append(r.streams, s)
	return s
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats { return s.stats }

// Write is the client writing b on the stream (a TURN message, framed); it
// reports false, taking nothing, when the client's buffer is full.
func (s *Stream) Write(now time.Time, b []byte) bool {
	if s.rateBits > 0 {
		if s.buffered(now) > 0 && s.buffered(now)+len(b) > s.bufferBound() {
			return false
		}
		start := s.departAt
		if start.Before(now) {
			start = now
		}
		s.departAt = start.Add(time.Duration(float64(len(b)) * 8 / float64(s.rateBits) * float64(time.Second)))
		s.upAt = s.arrival(s.departAt, s.upAt)
	} else {
		s.upAt = s.arrival(now, s.upAt)
	}
	gen, b := s.gen, append([]byte(nil), b...)
	s.r.w.Schedule(s.upAt, s.r.h.Name()+"/stream-up", func(at time.Time) {
		if !s.live(at, gen) {
			return
		}
		s.cut(at, s.up, b, func(msg []byte) {
			s.stats.MessagesUp++
			s.r.srv.HandleDatagram(at, s.client, s.r.listen, msg)
			s.r.collect()
		})
		s.r.flush()
		s.r.arm()
	})
	return true
}

// send is the server writing b to the client on the stream.
func (s *Stream) send(now time.Time, b []byte) {
	s.downAt = s.arrival(now, s.downAt)
	gen, b := s.gen, append([]byte(nil), b...)
	s.r.w.Schedule(s.downAt, s.r.h.Name()+"/stream-down", func(at time.Time) {
		if !s.live(at, gen) {
			return
		}
		s.cut(at, s.down, b, func(msg []byte) {
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

// cut feeds b, arrived at now, through f and hands on each whole message;
// bytes that lose their framing close the connection (corrupt).
func (s *Stream) cut(now time.Time, f *stunmsg.StreamFramer, b []byte, fn func(msg []byte)) {
	for len(b) > 0 {
		space := f.Space()
		if len(space) == 0 {
			s.corrupt(now)
			return
		}
		n := copy(space, b)
		f.Filled(n)
		b = b[n:]
		for {
			msg, err := f.Next()
			if err != nil {
				s.corrupt(now)
				return
			}
			if msg == nil {
				break
			}
			fn(msg)
		}
	}
}

// live reports whether bytes sent on connection gen arrive at now: not
// when that connection is gone, nor when the client's network is down,
// which breaks the stream until it is back.
func (s *Stream) live(now time.Time, gen uint64) bool {
	if gen != s.gen {
		s.stats.LostInRestart++
		return false
	}
	if s.carries() {
		return true
	}
	s.stats.LostInRestart++
	s.gen++
	s.stats.Breaks++
	if !s.waiting {
		s.waiting = true
		s.awaitNetwork(now)
	}
	return false
}

// awaitNetwork re-dials once the client's network is back.
func (s *Stream) awaitNetwork(now time.Time) {
	s.r.w.Schedule(now.Add(streamRedial), s.r.h.Name()+"/stream-redial", func(at time.Time) {
		if !s.carries() {
			s.awaitNetwork(at)
			return
		}
		s.waiting = false
		s.reset(at)
	})
}

// corrupt closes the connection whose bytes lost their framing at now,
// and opens the next one after the driver's wait to dial again.
func (s *Stream) corrupt(now time.Time) {
	s.stats.Corrupt++
	s.reopen(now, streamRedialMin)
}

// reset closes the stream's connection (a restart, a broken network) and
// opens the next one a handshake later.
func (s *Stream) reset(now time.Time) { s.reopen(now, 0) }

// reopen closes the stream's connection at now, and opens the next one
// after wait and a handshake.
func (s *Stream) reopen(now time.Time, wait time.Duration) {
	s.gen++
	s.up, s.down = stunmsg.NewStreamFramer(), stunmsg.NewStreamFramer()
	s.stats.Resets++
	at := now.Add(wait + 3*s.latency)
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
