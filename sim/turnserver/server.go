package turnserver

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/stun/v2"
)

// Transmit is a datagram the server wants sent: from one of its addresses
// (the one a client talks to, or a relayed address) to To.
type Transmit struct {
	From, To netip.AddrPort
	Payload  []byte
}

// Stats counts what the server did, drops by reason.
type Stats struct {
	Requests, SuccessResponses, ErrorResponses uint64
	Unauthorized, StaleNonce, BadRequest       uint64 // 401, 438 and 400 answers
	AllocationsMade, AllocationsDeleted        uint64
	AllocationsExpired                         uint64
	RelayedToPeer, RelayedToClient             uint64
	DropMalformed                              uint64 // neither a valid STUN message nor ChannelData
	DropNoAllocation                           uint64 // indication or ChannelData without an allocation
	DropNoPermission                           uint64 // peer IP without a permission, either direction
	DropNoChannel                              uint64 // ChannelData on an unbound channel
	DropBadIndication                          uint64 // Send indication missing its peer or data
	DropTransmitQueueFull                      uint64
}

// Server is a TURN server (RFC 8656 over UDP, long-term credentials per
// RFC 8489) as a pure state machine: no sockets, no clock, no goroutines.
//
// Inputs: HandleDatagram for every datagram that reaches one of the
// server's addresses, HandleTimeout when the PollTimeout deadline passes.
// Outputs: PollTransmit until it reports false, after every input.
type Server struct {
	cfg      Config
	users    map[string][]byte // username -> long-term key; lookups only
	now      time.Time
	byTuple  map[fiveTuple]*allocation // lookups only
	byRelay  map[netip.AddrPort]*allocation
	allocs   []*allocation // creation order: sweeps and deadlines iterate this
	nonces   nonceTable
	out      []Transmit
	outStart int
	stats    Stats
}

// New makes a server, or returns a configuration error.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		users:   make(map[string][]byte, len(cfg.Users)),
		byTuple: make(map[fiveTuple]*allocation),
		byRelay: make(map[netip.AddrPort]*allocation),
	}
	for _, u := range cfg.Users {
		s.users[u.Username] = stun.NewLongTermIntegrity(u.Username, cfg.Realm, u.Password)
	}
	s.nonces = newNonceTable(cfg.MaxNonces)
	return s, nil
}

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats }

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return len(s.allocs) }

// Relayed returns the relayed address of the client's allocation on the
// server address it used, if there is one.
func (s *Server) Relayed(client, server netip.AddrPort) (netip.AddrPort, bool) {
	a := s.byTuple[fiveTuple{client, server}]
	if a == nil {
		return netip.AddrPort{}, false
	}
	return a.relayed, true
}

// HandleDatagram takes a datagram that arrived at local (the address a
// client uses, or a relayed address) from remote. b is not retained.
func (s *Server) HandleDatagram(now time.Time, remote, local netip.AddrPort, b []byte) {
	s.advance(now)
	remote, local = unmap(remote), unmap(local)
	if a := s.byRelay[local]; a != nil {
		s.fromPeer(a, remote, b)
		return
	}
	switch {
	case len(b) >= 4 && b[0]>>6 == 1: // 0x40-0x7F: ChannelData (RFC 8656 section 12.4)
		s.channelData(fiveTuple{remote, local}, b)
	case stun.IsMessage(b):
		s.stunMessage(fiveTuple{remote, local}, b)
	default:
		s.stats.DropMalformed++
	}
}

// PollTransmit returns the next datagram to send. It changes only after
// HandleDatagram or HandleTimeout.
func (s *Server) PollTransmit() (Transmit, bool) {
	if s.outStart == len(s.out) {
		s.out, s.outStart = s.out[:0], 0
		return Transmit{}, false
	}
	t := s.out[s.outStart]
	s.out[s.outStart] = Transmit{}
	s.outStart++
	return t, true
}

// PollTimeout is the earliest instant an allocation, permission or channel
// expires. It changes after every input.
func (s *Server) PollTimeout() (time.Time, bool) {
	var t time.Time
	for _, a := range s.allocs {
		if n := a.next(); t.IsZero() || n.Before(t) {
			t = n
		}
	}
	return t, !t.IsZero()
}

// HandleTimeout expires whatever is due at now.
func (s *Server) HandleTimeout(now time.Time) {
	s.advance(now)
	s.sweep()
}

// advance moves the server's clock forward only: an input stamped earlier
// than one already seen is treated as happening now.
func (s *Server) advance(now time.Time) {
	if now.After(s.now) {
		s.now = now
	}
}

func (s *Server) sweep() {
	for i := 0; i < len(s.allocs); {
		a := s.allocs[i]
		if !s.now.Before(a.expires) {
			s.stats.AllocationsExpired++
			s.remove(a)
			continue
		}
		a.expire(s.now)
		i++
	}
}

// lookup returns the live allocation of a 5-tuple. An expired one is
// removed here too, so behaviour does not depend on when HandleTimeout ran.
func (s *Server) lookup(t fiveTuple) *allocation {
	a := s.byTuple[t]
	if a != nil && !s.now.Before(a.expires) {
		s.stats.AllocationsExpired++
		s.remove(a)
		return nil
	}
	return a
}

func (s *Server) remove(a *allocation) {
	delete(s.byTuple, a.tuple)
	delete(s.byRelay, a.relayed)
	s.allocs = slices.DeleteFunc(s.allocs, func(x *allocation) bool { return x == a })
}

func (s *Server) emit(from, to netip.AddrPort, payload []byte) {
	if len(s.out)-s.outStart >= s.cfg.MaxPendingTransmits {
		s.stats.DropTransmitQueueFull++
		return
	}
	s.out = append(s.out, Transmit{From: from, To: to, Payload: payload})
}

func (s *Server) txID() [stun.TransactionIDSize]byte {
	var id [stun.TransactionIDSize]byte
	for i := 0; i < len(id); i += 4 {
		binary.BigEndian.PutUint32(id[i:], s.cfg.Rand.Uint32())
	}
	return id
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
