package drivers

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// Stream bounds and timers, and why.
const (
	// streamQueueBytes bounds what waits to be written on one stream; past
	// it the transmits stay in the pump, whose bound then pushes back on
	// the application's Data (gso.ErrQueueFull, WaitWritable), as a
	// UDP socket's queue does. 64 KiB on top of the kernel's own send
	// buffer keeps the time a probe waits behind Data it cannot overtake
	// short, and the pump lets Control out first.
	streamQueueBytes = 64 << 10
	// streamDialTimeout bounds one dial with its TLS handshake: a relay a
	// few hundred ms away answers well within it, and the TURN client's
	// own retransmissions (which wait in the queue meanwhile) give up
	// after about 20 s anyway.
	streamDialTimeout = 5 * time.Second
	// streamRedialMin and streamRedialMax bound the wait between dials of
	// a stream that broke or could not be opened: the first retry is
	// quick (a restarted server is often back within a second), then the
	// wait doubles so that a server that is down is not hammered.
	streamRedialMin = 100 * time.Millisecond
	streamRedialMax = 5 * time.Second
	// streamWriteTimeout ends a write that makes no progress: the stream
	// is broken (the server or a middlebox stopped reading), and a new one
	// serves better than waiting.
	streamWriteTimeout = 10 * time.Second
	// streamInMessages is how many messages cut from the streams may wait
	// for the loop; a reader waits when they do, and TCP's flow control
	// then slows the server.
	streamInMessages = 64
	// streamIdle closes a stream nothing was written on for this long: its
	// relay was removed (or lost for good). A relay in use writes at least
	// its keepalive (25 s) and its refresh (at most 5 min by default), so
	// 10 minutes never closes one that lives.
	streamIdle = 10 * time.Minute
)

// StreamStats counts what the driver's relay streams (TCP, TLS) did.
type StreamStats struct {
	// Dials counts connections opened (with the TLS handshake done);
	// DialFailures those that failed; Broken established streams that
	// ended (read or write error, EOF).
	Dials, DialFailures, Broken uint64
	// MessagesOut and MessagesIn count STUN messages and ChannelData frames
	// written and cut from the streams.
	MessagesOut, MessagesIn uint64
	// Corrupt counts streams closed because the server sent bytes that
	// start no message (stunmsg.ErrStreamCorrupt).
	Corrupt uint64
	// Dropped and DroppedBytes count the messages queued for a stream
	// that never left: lost with a connection that broke while writing
	// them, or forgotten with a stream that stayed unreachable while
	// nobody sent to it for its idle time. The TURN client retransmits
	// its requests; Data among them is lost, as a datagram would be.
	Dropped, DroppedBytes uint64
}

type streamCounters struct {
	dials, dialFailures, broken, out, in, corrupt, dropped, droppedBytes atomic.Uint64
}

func (c *streamCounters) snapshot() StreamStats {
	return StreamStats{Dials: c.dials.Load(), DialFailures: c.dialFailures.Load(), Broken: c.broken.Load(),
		MessagesOut: c.out.Load(), MessagesIn: c.in.Load(), Corrupt: c.corrupt.Load(),
		Dropped: c.dropped.Load(), DroppedBytes: c.droppedBytes.Load()}
}

// drop counts msgs as queued and never written.
func (c *streamCounters) drop(msgs [][]byte) {
	for _, b := range msgs {
		c.dropped.Add(1)
		c.droppedBytes.Add(uint64(len(b)))
	}
}

// streamKey names one stream: the relay's local address (the UDP socket's
// address the Node knows the relay by), its server and transport.
type streamKey struct {
	local, server netip.AddrPort
	transport     node.Transport
}

// streamMsg is one message cut from a stream, for the loop; b is nil when
// the stream was opened again after it broke (node.Node.RelayStreamReset).
type streamMsg struct {
	key streamKey
	b   []byte
}

// streams owns the driver's relay streams. The loop calls send; each
// stream has a writer goroutine that dials, writes and re-dials, and a
// reader goroutine per connection that cuts what arrives into messages
// and hands them to the loop on in.
type streams struct {
	dial func(ctx context.Context, network, address string) (net.Conn, error)
	in   chan streamMsg
	// room wakes the loop when a writer wrote what it had taken, or a
	// stream was retired, so that what waits in the pump goes on
	// (pump.Pump.StreamRoom).
	room  chan struct{}
	done  <-chan struct{}
	wg    *sync.WaitGroup
	log   func(msg string, args ...any)
	count streamCounters

	mu  sync.Mutex // guards all and tls
	all map[streamKey]*stream
	// tls holds the configuration AddRelay chose for each TLS relay.
	tls map[netip.AddrPort]*tls.Config
	// idle is streamIdle; tests shorten it.
	idle time.Duration
}

// newStreams returns the streams of a driver whose loop reads in, and
// which stop when done closes; their goroutines count in wg.
func newStreams(dial func(ctx context.Context, network, address string) (net.Conn, error), done <-chan struct{},
	wg *sync.WaitGroup, log func(msg string, args ...any)) *streams {
	return &streams{dial: dial, in: make(chan streamMsg, streamInMessages), room: make(chan struct{}, 1), done: done, wg: wg, log: log,
		all: make(map[streamKey]*stream), tls: make(map[netip.AddrPort]*tls.Config), idle: streamIdle}
}

// stream is one relay's stream and what waits to be written on it.
type stream struct {
	key    streamKey
	mu     sync.Mutex
	queue  [][]byte
	bytes  int
	notify chan struct{} // one token: the queue gained something
	last   time.Time     // when send last queued something
}

// idleSince is how long ago send last queued something on st.
func (st *stream) idleSince() time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	return time.Since(st.last)
}

// send queues t for its stream, starting the stream on first use, and
// reports whether it did: not when the stream's queue is full (the caller
// keeps t and tries again on room). It never blocks: the loop must not
// wait for a network.
func (s *streams) send(t node.Transmit) bool {
	k := streamKey{local: t.Src, server: t.Dst, transport: t.Transport}
	s.mu.Lock()
	st := s.all[k]
	if st == nil {
		st = &stream{key: k, notify: make(chan struct{}, 1)}
		s.all[k] = st
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(st)
		}()
	}
	// Still under s.mu: an idle stream leaves the map only with an empty
	// queue, under both locks, so nothing queued here is stranded.
	st.mu.Lock()
	full := st.bytes > 0 && st.bytes+len(t.Payload) > streamQueueBytes
	if !full {
		st.queue = append(st.queue, t.Payload)
		st.bytes += len(t.Payload)
		st.last = time.Now()
	}
	st.mu.Unlock()
	s.mu.Unlock()
	if full {
		return false
	}
	select {
	case st.notify <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued on st.
func (st *stream) take() [][]byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	q := st.queue
	st.queue, st.bytes = nil, 0
	return q
}

// run is st's writer: it dials, writes what is queued in order, and on any
// failure closes the connection and dials again after a backoff, until the
// driver stops. What was queued while no connection was up goes out on the
// next one: the TURN client's requests carry their own retransmissions and
// a new connection needs a new allocation anyway (the server ties an
// allocation to its connection), which the client learns from a 437.
func (s *streams) run(st *stream) {
	wait := streamRedialMin
	reopened := false
	for {
		conn, err := s.open(st.key)
		if err != nil {
			s.count.dialFailures.Add(1)
			s.log("relay stream dial failed", KeyRelay, st.key.server.String(), KeyErr, err.Error())
			if st.idleSince() > s.idle {
				// Nobody has sent to it for long: its relay is gone, and
				// what waits is stale.
				s.count.drop(st.take())
				if s.retire(st) {
					// What the pump holds for it starts a new stream.
					s.wakeLoop()
					return
				}
			}
			if !s.sleep(wait) {
				return
			}
			wait = min(2*wait, streamRedialMax)
			continue
		}
		s.count.dials.Add(1)
		if reopened {
			select {
			case s.in <- streamMsg{key: st.key}:
			case <-s.done:
				conn.Close()
				return
			}
		}
		reopened = true
		broken := make(chan struct{})
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			s.read(st.key, conn, broken)
		}()
		go func() {
			// A write blocked on a peer that stopped reading would hold
			// Stop for streamWriteTimeout: closing the connection ends it.
			defer s.wg.Done()
			select {
			case <-s.done:
				conn.Close()
			case <-broken:
			}
		}()
		start := time.Now()
		err = s.write(st, conn, broken)
		for errors.Is(err, errStreamIdle) {
			if s.retire(st) {
				conn.Close()
				<-broken
				return
			}
			err = s.write(st, conn, broken)
		}
		conn.Close()
		<-broken
		if err == nil {
			return // the driver stopped
		}
		s.count.broken.Add(1)
		s.log("relay stream broken", KeyRelay, st.key.server.String(), KeyErr, err.Error())
		if time.Since(start) > streamRedialMax {
			wait = streamRedialMin // it worked for a while: retry quickly
		}
		if !s.sleep(wait) {
			return
		}
		wait = min(2*wait, streamRedialMax)
	}
}

// open dials the stream and, for TLS, completes the handshake.
func (s *streams) open(k streamKey) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), streamDialTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	conn, err := s.dial(ctx, "tcp", k.server.String())
	if err != nil {
		return nil, err
	}
	if k.transport != node.TLS {
		return conn, nil
	}
	tc := tls.Client(conn, s.tlsFor(k.server))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// write writes st's queue on conn until the driver stops (nil) or the
// connection fails.
func (s *streams) write(st *stream, conn net.Conn, broken <-chan struct{}) error {
	idle := time.NewTimer(s.idle)
	defer idle.Stop()
	for {
		msgs := st.take()
		for i, b := range msgs {
			_ = conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := conn.Write(b); err != nil {
				select {
				case <-s.done:
					return nil // the watcher closed it: the driver stopped
				default:
				}
				s.count.drop(msgs[i:])
				return err
			}
			s.count.out.Add(1)
		}
		s.wakeLoop()
		select {
		case <-st.notify:
			idle.Reset(s.idle)
		case <-idle.C:
			return errStreamIdle
		case <-broken:
			return errStreamEnded
		case <-s.done:
			return nil
		}
	}
}

// wakeLoop tells the loop that a stream has room, so that what the pump
// holds for it goes on (pump.Pump.StreamRoom).
func (s *streams) wakeLoop() {
	select {
	case s.room <- struct{}{}:
	default:
	}
}

var (
	errStreamEnded = errors.New("drivers: relay stream closed by the server or the network")
	errStreamIdle  = errors.New("drivers: relay stream idle")
)

// retire forgets st if nothing waits on it, so that the next transmit to
// its server starts a new stream; it reports whether it did.
func (s *streams) retire(st *stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.queue) > 0 {
		return false
	}
	delete(s.all, st.key)
	return true
}

// read cuts what arrives on conn into messages for the loop, until the
// connection fails or carries bytes that start no message; it closes
// broken when it returns.
func (s *streams) read(k streamKey, conn net.Conn, broken chan<- struct{}) {
	defer close(broken)
	defer conn.Close()
	f := stunmsg.NewStreamFramer()
	for {
		n, rerr := conn.Read(f.Space())
		f.Filled(n)
		for {
			msg, err := f.Next()
			if err != nil {
				s.count.corrupt.Add(1)
				s.log("relay stream corrupt", KeyRelay, k.server.String(), KeyErr, err.Error())
				return
			}
			if msg == nil {
				break
			}
			s.count.in.Add(1)
			select {
			case s.in <- streamMsg{key: k, b: append([]byte(nil), msg...)}:
			case <-s.done:
				return
			}
		}
		if rerr != nil {
			return
		}
	}
}

// sleep waits d, or returns false when the driver stops first.
func (s *streams) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// handleStream gives the loop's pump a message from a relay stream, as a
// datagram from the server arriving on the relay's local address.
func (d *Driver) handleStream(m streamMsg) {
	if m.b == nil {
		// Whether the relay is still there or not, nothing to report.
		_ = d.pump.Node().RelayStreamReset(time.Now(), m.key.server)
		return
	}
	msg := pump.Message{Buf: m.b, N: len(m.b), Src: m.key.server, Dst: m.key.local}
	d.pump.HandleMessages(time.Now(), []pump.Message{msg}, d.cfg.OnData)
}

// flushStreams hands the pump's stream transmits to their streams, Control
// first; what a full stream refuses waits in the pump for room, and the
// other streams go on.
func (d *Driver) flushStreams() { d.pump.FlushStreams(d.streams.send) }
