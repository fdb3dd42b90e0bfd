// Package traffic generates application load for simulated hosts: constant
// rate, bursts, and saturating senders that offer more than a link carries
// while honouring back-pressure. Generators know nothing of sockets; they
// call a supplied SendFunc, so the same generator can feed a raw simulated
// socket or a real Node's Send.
package traffic

import (
	"encoding/binary"
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// HeaderBytes is the stamp at the head of every generated payload: a
// sequence number and the send time, so a receiver can measure delay and
// detect reordering and loss.
const HeaderBytes = 16

// SendFunc hands one payload to the host. An error means the host could not
// take it now (a full queue or socket): constant and burst generators count
// it as refused and move on; a saturating generator waits for Writable.
type SendFunc func(now time.Time, payload []byte) error

// Stamp writes seq and the send time into b's first HeaderBytes.
func Stamp(b []byte, seq uint64, at time.Time) {
	binary.BigEndian.PutUint64(b, seq)
	binary.BigEndian.PutUint64(b[8:], uint64(at.Sub(world.Epoch)))
}

// Parse reads a stamp; ok is false for a payload too short to carry one.
func Parse(b []byte) (seq uint64, at time.Time, ok bool) {
	if len(b) < HeaderBytes {
		return 0, time.Time{}, false
	}
	seq = binary.BigEndian.Uint64(b)
	at = world.Epoch.Add(time.Duration(binary.BigEndian.Uint64(b[8:])))
	return seq, at, true
}

// Stats counts a generator's offers.
type Stats struct {
	Sent, Refused uint64
	Bytes         uint64
}

// Generator is a running load source.
type Generator struct {
	w       *world.World
	send    SendFunc
	size    int
	seq     uint64
	buf     []byte
	timer   *world.Timer
	tick    func(now time.Time) // what the timer does: one burst, or a pour
	stopped bool
	stats   Stats
	waiting bool // saturating: a send was refused, waiting for Writable
	perWake int  // saturating: bound on sends per wake
}

func newGenerator(w *world.World, label string, size int, send SendFunc) *Generator {
	size = max(size, HeaderBytes)
	g := &Generator{w: w, send: send, size: size, buf: make([]byte, size)}
	g.timer = w.NewTimer(label, func(now time.Time) { g.tick(now) })
	return g
}

// Stats returns the generator's counters.
func (g *Generator) Stats() Stats { return g.stats }

// Stop ends the generator; pending sends are cancelled.
func (g *Generator) Stop() {
	g.stopped = true
	g.timer.Stop()
}

// offer stamps and sends one payload. The buffer is reused: SendFunc must
// copy what it keeps, as every socket and queue does.
func (g *Generator) offer(now time.Time) error {
	Stamp(g.buf, g.seq, now)
	if err := g.send(now, g.buf); err != nil {
		g.stats.Refused++
		return err
	}
	g.seq++
	g.stats.Sent++
	g.stats.Bytes += uint64(g.size)
	return nil
}

// Constant sends one payload of size bytes every interval from start, count
// times (0: until stopped).
func Constant(w *world.World, start time.Time, interval time.Duration, size, count int, send SendFunc) *Generator {
	return Bursts(w, start, interval, 1, size, count, send)
}

// Bursts sends burst payloads back to back every interval from start,
// count bursts (0: until stopped). A refused payload is counted and
// skipped: an application with a full queue drops or defers, and this one
// drops.
func Bursts(w *world.World, start time.Time, interval time.Duration, burst, size, count int, send SendFunc) *Generator {
	g := newGenerator(w, "traffic/burst", size, send)
	done := 0
	g.tick = func(now time.Time) {
		for i := 0; i < burst; i++ {
			g.offer(now)
		}
		done++
		if count == 0 || done < count {
			g.timer.Reset(now.Add(interval))
		}
	}
	g.timer.Reset(start)
	return g
}

// DefaultMaxPerWake bounds the sends a saturating generator makes in one
// wake, so that a host that never pushes back cannot spin the world
// forever at one instant.
const DefaultMaxPerWake = 1024

// Saturating offers payloads as fast as the host takes them, from start
// until stopped. When send fails it waits for Writable; when it has sent
// maxPerWake (0: DefaultMaxPerWake) without a refusal it yields and
// resumes at the same instant after other events.
func Saturating(w *world.World, start time.Time, size, maxPerWake int, send SendFunc) *Generator {
	if maxPerWake <= 0 {
		maxPerWake = DefaultMaxPerWake
	}
	g := newGenerator(w, "traffic/saturate", size, send)
	g.perWake = maxPerWake
	g.tick = g.pour
	g.timer.Reset(start)
	return g
}

// Writable tells a saturating generator that its host can take data again
// (wire it to the socket's Writable or the queue's drain). Other
// generators ignore it.
func (g *Generator) Writable(now time.Time) {
	if g.perWake == 0 || g.stopped || !g.waiting {
		return
	}
	g.waiting = false
	g.pour(now)
}

func (g *Generator) pour(now time.Time) {
	for i := 0; i < g.perWake; i++ {
		if g.stopped {
			return
		}
		if g.offer(now) != nil {
			g.waiting = true
			return
		}
	}
	g.timer.Reset(now)
}
