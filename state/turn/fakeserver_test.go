package turn

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// fakeServer is a canned TURN responder at the message level: it answers
// what an RFC 8656 server would, and tests switch on misbehaviour (silence,
// stale nonces, lost allocations, pion's 400 for bad credentials) to drive
// the client down each path.
type fakeServer struct {
	addr     netip.AddrPort
	mapped   netip.AddrPort // the client's address as the server sees it
	relayed  netip.AddrPort
	realm    string
	nonce    string
	nonces   int
	password string // the password the server expects for user "u"
	// maxLifetime clamps the requested LIFETIME, as servers do.
	maxLifetime time.Duration

	allocated bool
	// allocTx is the Allocate that created the allocation: pion/turn and
	// coturn answer that transaction again with the grant, for as long as
	// the allocation lives, and any other Allocate with 437.
	allocTx  stunmsg.TxID
	perms    map[netip.Addr]bool
	channels map[uint16]netip.AddrPort
	// fam: the address families it allocates (family_test.go).
	fam familyServer

	// Misbehaviour switches.
	silent        bool // answer nothing at all
	silentAfter   int  // when positive: answer this many more requests, then go silent
	silentRefresh bool // never answer Refresh (pion with no allocation)
	staleNext     int  // answer the next n signed requests with 438
	mismatchNext  int  // answer the next n Refresh/Allocate with 437
	badAuthIs400  bool // pion: wrong credentials earn an unsigned 400
	refusePeer    bool // answer CreatePermission/ChannelBind with 403
	// lostRefreshAnswers: act on every Refresh but lose the answer, as a
	// lossy path would.
	lostRefreshAnswers bool
	// clock and deleteDelay: a Refresh with LIFETIME 0 deletes the
	// allocation only deleteDelay later (coturn's once-a-second timer);
	// until then Allocate still meets it with 437.
	clock       *time.Time
	deleteDelay time.Duration
	deleteAt    time.Time

	// received logs every request as "Method" or "Method+auth".
	received []string
	// sent logs Send indications: peer and payload.
	indications []relayed
}

type relayed struct {
	peer    netip.AddrPort
	payload string
}

func newFakeServer() *fakeServer {
	return &fakeServer{
		addr:        netip.MustParseAddrPort("198.51.100.1:3478"),
		mapped:      netip.MustParseAddrPort("203.0.113.7:40000"),
		relayed:     netip.MustParseAddrPort("198.51.100.1:50000"),
		realm:       "test",
		nonce:       "nonce-0",
		password:    "p",
		maxLifetime: time.Hour,
		perms:       map[netip.Addr]bool{},
		channels:    map[uint16]netip.AddrPort{},
	}
}

func (s *fakeServer) key() stun.MessageIntegrity {
	return stun.NewLongTermIntegrity("u", s.realm, s.password)
}

// staleNonce moves the server to a new nonce.
func (s *fakeServer) staleNonce() {
	s.nonces++
	s.nonce = fmt.Sprintf("nonce-%d", s.nonces)
}

// answer returns the server's reply to one datagram from the client, or
// nil for none.
func (s *fakeServer) answer(b []byte) []byte {
	var m stun.Message
	if !stunmsg.IsSTUN(b) || stunmsg.Decode(b, &m) != nil {
		return nil // ChannelData to a peer: nothing to answer
	}
	if m.Type.Class == stun.ClassIndication {
		if m.Type.Method == stun.MethodSend {
			peer, _ := xorAddress(&m, stun.AttrXORPeerAddress)
			data, _ := m.Get(stun.AttrData)
			s.indications = append(s.indications, relayed{peer, string(data)})
		}
		return nil
	}
	signed := m.Contains(stun.AttrMessageIntegrity)
	name := m.Type.Method.String()
	if signed {
		name += "+auth"
	}
	s.received = append(s.received, name)
	if s.silent {
		return nil
	}
	if s.silentAfter > 0 {
		s.silentAfter--
		s.silent = s.silentAfter == 0
	}
	method := m.Type.Method
	if method == stun.MethodBinding {
		r := s.reply(&m, stun.ClassSuccessResponse)
		addXOR(r, stun.AttrXORMappedAddress, s.mapped)
		return finish(r)
	}
	if !signed {
		return s.challenge(&m, CodeUnauthorized)
	}
	nonce, _ := m.Get(stun.AttrNonce)
	if s.staleNext > 0 || string(nonce) != s.nonce {
		if s.staleNext > 0 {
			s.staleNext--
			s.staleNonce()
		}
		return s.challenge(&m, CodeStaleNonce)
	}
	if s.key().Check(&m) != nil {
		if s.badAuthIs400 {
			return s.errorReply(&m, CodeBadRequest, nil)
		}
		return s.challenge(&m, CodeUnauthorized)
	}
	if method == stun.MethodRefresh && s.silentRefresh {
		// pion checks the nonce and the credentials first, then finds no
		// allocation and answers nothing.
		return nil
	}
	if !s.deleteAt.IsZero() && !s.clock.Before(s.deleteAt) {
		s.deleteAt = time.Time{}
		s.allocated = false
	}
	r := s.authenticated(&m)
	if method == stun.MethodRefresh && s.lostRefreshAnswers {
		return nil
	}
	return r
}

func (s *fakeServer) authenticated(m *stun.Message) []byte {
	key := s.key()
	switch m.Type.Method {
	case stun.MethodAllocate:
		if s.mismatchNext > 0 || s.allocated && m.TransactionID != s.allocTx {
			s.mismatchNext = max(0, s.mismatchNext-1)
			return s.errorReply(m, CodeAllocationMismatch, key)
		}
		if code := s.fam.refuse(m); code != 0 {
			return s.errorReply(m, code, key)
		}
		s.allocated, s.allocTx = true, m.TransactionID
		r := s.reply(m, stun.ClassSuccessResponse)
		s.addRelayed(r, m)
		addLifetime(r, s.grant(m))
		addXOR(r, stun.AttrXORMappedAddress, s.mapped)
		return sign(r, key)
	case stun.MethodRefresh:
		if s.mismatchNext > 0 || !s.allocated {
			s.mismatchNext = max(0, s.mismatchNext-1)
			return s.errorReply(m, CodeAllocationMismatch, key)
		}
		lt := s.grant(m)
		if lt == 0 && s.deleteDelay > 0 {
			if s.deleteAt.IsZero() {
				s.deleteAt = s.clock.Add(s.deleteDelay)
			}
		} else if lt == 0 {
			s.allocated = false
			s.perms, s.channels = map[netip.Addr]bool{}, map[uint16]netip.AddrPort{}
		}
		r := s.reply(m, stun.ClassSuccessResponse)
		addLifetime(r, lt)
		return sign(r, key)
	case stun.MethodCreatePermission, stun.MethodChannelBind:
		if !s.allocated {
			return s.errorReply(m, CodeAllocationMismatch, key)
		}
		if s.refusePeer {
			return s.errorReply(m, CodeForbidden, key)
		}
		peer, _ := xorAddress(m, stun.AttrXORPeerAddress)
		if !s.fam.has(peer.Addr()) {
			return s.errorReply(m, CodePeerFamilyMismatch, key)
		}
		s.perms[peer.Addr()] = true
		if m.Type.Method == stun.MethodChannelBind {
			v, _ := m.Get(stun.AttrChannelNumber)
			s.channels[binary.BigEndian.Uint16(v)] = peer
		}
		return sign(s.reply(m, stun.ClassSuccessResponse), key)
	}
	return s.errorReply(m, CodeBadRequest, key)
}

// grant is the lifetime the server grants: the requested one, clamped.
func (s *fakeServer) grant(m *stun.Message) time.Duration {
	lt, ok := lifetime(m)
	if !ok {
		lt = 600 * time.Second
	}
	return min(lt, s.maxLifetime)
}

func (s *fakeServer) reply(m *stun.Message, class stun.MessageClass) *stun.Message {
	return newMessage(stun.NewType(m.Type.Method, class), m.TransactionID)
}

func (s *fakeServer) challenge(m *stun.Message, code int) []byte {
	r := s.reply(m, stun.ClassErrorResponse)
	addErrorCode(r, code)
	r.Add(stun.AttrRealm, []byte(s.realm))
	r.Add(stun.AttrNonce, []byte(s.nonce))
	return finish(r)
}

func (s *fakeServer) errorReply(m *stun.Message, code int, key stun.MessageIntegrity) []byte {
	r := s.reply(m, stun.ClassErrorResponse)
	addErrorCode(r, code)
	if key == nil {
		return finish(r)
	}
	return sign(r, key)
}

// channelData frames payload from the peer bound to number, as the server
// relays it; padded as pion/turn does, or not as coturn does.
func (s *fakeServer) channelData(number uint16, payload string, padded bool) []byte {
	b, err := stunmsg.AppendChannelData(nil, number, []byte(payload))
	if err != nil {
		panic(err)
	}
	for padded && len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// dataIndication relays payload from peer without a channel.
func (s *fakeServer) dataIndication(peer netip.AddrPort, payload string) []byte {
	m := newMessage(typeDataIndication, stunmsg.TxID{9, 9, 9})
	addXOR(m, stun.AttrXORPeerAddress, peer)
	m.Add(stun.AttrData, []byte(payload))
	return finish(m)
}

func addXOR(m *stun.Message, t stun.AttrType, a netip.AddrPort) {
	x := stun.XORMappedAddress{IP: a.Addr().AsSlice(), Port: int(a.Port())}
	if err := x.AddToAs(m, t); err != nil {
		panic(err)
	}
}

func addErrorCode(m *stun.Message, code int) {
	a := stun.ErrorCodeAttribute{Code: stun.ErrorCode(code), Reason: []byte("canned")}
	if err := a.AddTo(m); err != nil {
		panic(err)
	}
}

func sign(m *stun.Message, key stun.MessageIntegrity) []byte {
	if err := key.AddTo(m); err != nil {
		panic(err)
	}
	return finish(m)
}
