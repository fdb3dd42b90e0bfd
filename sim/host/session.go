package host

import (
	"time"

	"github.com/peerlink/peerlink/sim/signal"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// SessionConfig describes how an application sets up one connection
// between two hosts over a signalling channel.
type SessionConfig struct {
	// ID names the connection on both hosts.
	ID node.ConnID
	// Restart, when positive, makes the session start over with fresh
	// credentials this long after either side reports Failed, as an
	// application that wants its peer back does. Zero leaves a failed
	// connection failed.
	Restart time.Duration
	// MaxRestarts bounds the restarts, so a path that never works cannot
	// keep the world busy forever. 0 means DefaultMaxRestarts.
	MaxRestarts int
}

// DefaultMaxRestarts bounds a session's restarts: enough to show a run of
// false failures, few enough to end.
const DefaultMaxRestarts = 64

// Session is the application's signalling for one connection: the
// controlling side (A) offers credentials, the controlled side (B)
// answers, and both trickle every candidate their Node gathers. Every
// message travels over the channel; a generation number discards messages
// of an attempt that a restart superseded.
type Session struct {
	w        *world.World
	ch       *signal.Channel
	cfg      SessionConfig
	side     [2]*Host
	gen      [2]uint64 // the attempt each side is in
	restarts int
	pending  bool // a restart is scheduled or under way
	up       [2]bool
	onChange []func(now time.Time, side int, e node.Event)
}

// Connect starts a session between a (controlling) and b (controlled) now.
func Connect(w *world.World, ch *signal.Channel, a, b *Host, cfg SessionConfig) *Session {
	if cfg.MaxRestarts <= 0 {
		cfg.MaxRestarts = DefaultMaxRestarts
	}
	s := &Session{w: w, ch: ch, cfg: cfg, side: [2]*Host{a, b}}
	for i, h := range s.side {
		h.OnEvent(func(now time.Time, e node.Event) { s.event(now, i, e) })
	}
	s.offer()
	return s
}

// Up reports whether side i (0: A, 1: B) has a working connection: it has
// seen Connected and no Failed since.
func (s *Session) Up(i int) bool { return s.up[i] }

// Restarts is how many times the session started over.
func (s *Session) Restarts() int { return s.restarts }

// OnChange adds a listener for the connection's state events on either
// side: Connected, PathChanged, Failed, Closed.
func (s *Session) OnChange(fn func(now time.Time, side int, e node.Event)) {
	s.onChange = append(s.onChange, fn)
}

func (s *Session) name(i int) string { return s.side[i].Name() }

// offer is side A starting an attempt: fresh credentials to B. A connects
// only when B's answer brings B's credentials.
func (s *Session) offer() {
	s.gen[0]++
	gen := s.gen[0]
	credsA := ice.NewCredentials(s.w.Rand())
	s.ch.Send(s.name(0), s.name(1), "offer", func(now time.Time) { s.answer(gen, credsA) })
}

// answer is B taking an offer. Its answer leaves before its Connect, so
// that B's candidates, signalled as Connect gathers them, follow it.
func (s *Session) answer(gen uint64, credsA node.Credentials) {
	if gen < s.gen[1] {
		return
	}
	s.gen[1] = gen
	credsB := ice.NewCredentials(s.w.Rand())
	s.ch.Send(s.name(1), s.name(0), "answer", func(now time.Time) { s.accept(gen, credsA, credsB) })
	s.connect(1, node.Controlled, credsB, credsA)
}

// accept is A taking B's answer to its current offer.
func (s *Session) accept(gen uint64, credsA, credsB node.Credentials) {
	if gen != s.gen[0] {
		return
	}
	s.pending = false
	s.connect(0, node.Controlling, credsA, credsB)
}

func (s *Session) connect(i int, role node.Role, local, remote node.Credentials) {
	s.up[i] = false
	err := s.side[i].Do(func(now time.Time, n *node.Node) error {
		_, err := n.Connect(now, s.cfg.ID, role, local, remote)
		return err
	})
	if err != nil {
		panic("host: session credentials rejected: " + err.Error())
	}
}

func (s *Session) event(now time.Time, i int, e node.Event) {
	if e.ConnID() != s.cfg.ID {
		return
	}
	switch e := e.(type) {
	case node.CandidateGathered:
		s.trickle(i, e.Candidate)
		return
	case node.Connected:
		s.up[i] = true
	case node.Failed:
		s.up[i] = false
		s.failed()
	case node.Closed:
		s.up[i] = false
	case node.PathChanged:
	default:
		return
	}
	for _, fn := range s.onChange {
		fn(now, i, e)
	}
}

// trickle signals a candidate of side i to the other side, tagged with the
// attempt it belongs to.
func (s *Session) trickle(i int, c node.Candidate) {
	gen, line := s.gen[i], c.Marshal()
	peer := 1 - i
	s.ch.Send(s.name(i), s.name(peer), "candidate", func(now time.Time) {
		if s.gen[peer] != gen {
			return
		}
		cand, err := stunmsg.ParseCandidate(line)
		if err != nil {
			panic("host: a signalled candidate did not parse: " + err.Error())
		}
		s.side[peer].Do(func(now time.Time, n *node.Node) error {
			return n.AddRemoteCandidate(now, s.cfg.ID, cand)
		})
	})
}

// failed schedules a new attempt, once per attempt, if restarts are on.
func (s *Session) failed() {
	if s.cfg.Restart <= 0 || s.pending || s.restarts >= s.cfg.MaxRestarts {
		return
	}
	s.pending = true
	s.restarts++
	s.w.After(s.cfg.Restart, "session/restart", func(time.Time) { s.offer() })
}
