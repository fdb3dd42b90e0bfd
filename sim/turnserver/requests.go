package turnserver

import (
	"net/netip"
	"slices"
	"time"

	"github.com/pion/stun/v2"
)

// stunMessage handles a STUN message from a client.
func (s *Server) stunMessage(t fiveTuple, b []byte) {
	m := &stun.Message{Raw: slices.Clone(b)}
	if err := m.Decode(); err != nil {
		s.stats.DropMalformed++
		return
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(m) != nil {
		s.stats.DropMalformed++
		return
	}
	switch {
	case m.Type.Class == stun.ClassRequest:
		s.request(t, m)
	case m.Type == stun.NewType(stun.MethodSend, stun.ClassIndication):
		s.sendIndication(t, m)
	default:
		s.stats.DropMalformed++ // responses and other indications are not for a server
	}
}

func (s *Server) request(t fiveTuple, m *stun.Message) {
	s.stats.Requests++
	if unknown := unknownRequired(m); len(unknown) > 0 {
		s.replyError(t, m, nil, stun.CodeUnknownAttribute, "Unknown Attribute", unknown)
		return
	}
	if m.Type.Method == stun.MethodBinding {
		// Plain STUN: no credentials, so a client can learn its mapped
		// address from the relay as from any STUN server.
		s.reply(t, m, nil, stun.ClassSuccessResponse, xorAddr{stun.AttrXORMappedAddress, t.client})
		return
	}
	switch m.Type.Method {
	case stun.MethodAllocate, stun.MethodRefresh, stun.MethodCreatePermission, stun.MethodChannelBind:
	default:
		s.stats.BadRequest++
		s.replyError(t, m, nil, stun.CodeBadRequest, "Unsupported Method")
		return
	}
	key, user, ok := s.authenticate(t, m)
	if !ok {
		return
	}
	if m.Type.Method == stun.MethodAllocate {
		s.allocate(t, m, key, user)
		return
	}
	a := s.lookup(t)
	if a == nil && s.cfg.NoAllocationCode != 0 && m.Type.Method != stun.MethodRefresh {
		s.replyError(t, m, key, stun.ErrorCode(s.cfg.NoAllocationCode), "No Allocation")
		return
	}
	if a == nil {
		s.replyError(t, m, key, stun.CodeAllocMismatch, "Allocation Mismatch")
		return
	}
	if a.username != user {
		s.replyError(t, m, key, stun.CodeWrongCredentials, "Wrong Credentials")
		return
	}
	switch m.Type.Method {
	case stun.MethodRefresh:
		s.refresh(t, m, key, a)
	case stun.MethodCreatePermission:
		s.createPermission(t, m, key, a)
	case stun.MethodChannelBind:
		s.channelBind(t, m, key, a)
	}
}

// allocate follows RFC 8656 section 7.2.
func (s *Server) allocate(t fiveTuple, m *stun.Message, key []byte, user string) {
	if a := s.lookup(t); a != nil {
		if a.allocTx == m.TransactionID {
			s.emit(t.server, t.client, slices.Clone(a.allocResp)) // a retransmission
			return
		}
		s.replyError(t, m, key, stun.CodeAllocMismatch, "Allocation Mismatch")
		return
	}
	proto, present, err := getFirstByte(m, stun.AttrRequestedTransport)
	if !present || err != nil {
		s.badRequest(t, m, key, "Missing REQUESTED-TRANSPORT")
		return
	}
	if proto != protoUDP {
		s.replyError(t, m, key, stun.CodeUnsupportedTransProto, "Unsupported Transport Protocol")
		return
	}
	if m.Contains(stun.AttrReservationToken) {
		// This server never reserves ports, so no token can be valid.
		s.replyError(t, m, key, stun.CodeInsufficientCapacity, "Reservations Unsupported")
		return
	}
	fam, present, err := getFirstByte(m, stun.AttrRequestedAddressFamily)
	if err != nil || (present && fam != familyIPv4 && fam != familyIPv6) {
		s.badRequest(t, m, key, "Bad REQUESTED-ADDRESS-FAMILY")
		return
	}
	if present && (fam == familyIPv6) != s.cfg.RelayAddr.Is6() {
		s.replyError(t, m, key, stun.CodeAddrFamilyNotSupported, "Address Family not Supported")
		return
	}
	lifetime, ok := s.lifetime(m)
	if !ok {
		s.badRequest(t, m, key, "Bad LIFETIME")
		return
	}
	if len(s.allocs) >= s.cfg.MaxAllocations {
		s.replyError(t, m, key, stun.CodeInsufficientCapacity, "Insufficient Capacity")
		return
	}
	port, ok := s.relayPort(m.Contains(stun.AttrEvenPort))
	if !ok {
		s.replyError(t, m, key, stun.CodeInsufficientCapacity, "Insufficient Capacity")
		return
	}
	a := &allocation{
		tuple:    t,
		relayed:  netip.AddrPortFrom(s.cfg.RelayAddr, port),
		username: user,
		key:      key,
		expires:  s.now.Add(lifetime),
		allocTx:  m.TransactionID,
	}
	s.byTuple[t] = a
	s.byRelay[a.relayed] = a
	s.allocs = append(s.allocs, a)
	s.stats.AllocationsMade++
	a.allocResp = slices.Clone(s.reply(t, m, key, stun.ClassSuccessResponse,
		xorAddr{stun.AttrXORRelayedAddress, a.relayed},
		lifetimeAttr(uint32(lifetime/time.Second)),
		xorAddr{stun.AttrXORMappedAddress, t.client},
	))
}

// lifetime computes the granted lifetime (RFC 8656 section 7.2): the
// request capped at the maximum, but never below the default.
func (s *Server) lifetime(m *stun.Message) (time.Duration, bool) {
	secs, present, err := getUint32(m, stun.AttrLifetime)
	if err != nil {
		return 0, false
	}
	if !present {
		return s.cfg.DefaultLifetime, true
	}
	d := min(time.Duration(secs)*time.Second, s.cfg.MaxLifetime)
	return max(d, s.cfg.DefaultLifetime), true
}

// relayPort draws a free relayed port; 64 random tries, then a scan from a
// random start, so a crowded range still finds one.
func (s *Server) relayPort(even bool) (uint16, bool) {
	lo, hi := int(s.cfg.RelayPortMin), int(s.cfg.RelayPortMax)
	span := hi - lo + 1
	free := func(p int) bool {
		return (!even || p%2 == 0) && s.byRelay[netip.AddrPortFrom(s.cfg.RelayAddr, uint16(p))] == nil
	}
	for i := 0; i < 64; i++ {
		if p := lo + s.cfg.Rand.IntN(span); free(p) {
			return uint16(p), true
		}
	}
	start := s.cfg.Rand.IntN(span)
	for i := 0; i < span; i++ {
		if p := lo + (start+i)%span; free(p) {
			return uint16(p), true
		}
	}
	return 0, false
}

// refresh follows RFC 8656 section 7.3: LIFETIME 0 deletes.
func (s *Server) refresh(t fiveTuple, m *stun.Message, key []byte, a *allocation) {
	secs, present, err := getUint32(m, stun.AttrLifetime)
	if err != nil {
		s.badRequest(t, m, key, "Bad LIFETIME")
		return
	}
	if present && secs == 0 {
		s.remove(a)
		s.stats.AllocationsDeleted++
		s.reply(t, m, key, stun.ClassSuccessResponse, lifetimeAttr(0))
		return
	}
	lifetime, _ := s.lifetime(m)
	a.expires = s.now.Add(lifetime)
	s.reply(t, m, key, stun.ClassSuccessResponse, lifetimeAttr(uint32(lifetime/time.Second)))
}

// createPermission follows RFC 8656 section 9.2: all peers are checked
// before any permission is installed.
func (s *Server) createPermission(t fiveTuple, m *stun.Message, key []byte, a *allocation) {
	peers, err := peerAddrs(m)
	if err != nil || len(peers) == 0 {
		s.badRequest(t, m, key, "Missing XOR-PEER-ADDRESS")
		return
	}
	a.expire(s.now)
	added := 0
	for _, p := range peers {
		if p.Addr().Is6() != s.cfg.RelayAddr.Is6() {
			s.replyError(t, m, key, stun.CodePeerAddrFamilyMismatch, "Peer Address Family Mismatch")
			return
		}
		if !a.permitted(p.Addr(), s.now) {
			added++
		}
	}
	if len(a.perms)+added > s.cfg.MaxPermissions {
		s.replyError(t, m, key, stun.CodeInsufficientCapacity, "Too Many Permissions")
		return
	}
	for _, p := range peers {
		a.permit(p.Addr(), s.now, s.cfg.PermissionLifetime, s.cfg.MaxPermissions)
	}
	s.reply(t, m, key, stun.ClassSuccessResponse)
}

// channelBind follows RFC 8656 section 11.2; binding also installs or
// refreshes the peer's permission.
func (s *Server) channelBind(t fiveTuple, m *stun.Message, key []byte, a *allocation) {
	v, err := m.Get(stun.AttrChannelNumber)
	if err != nil || len(v) != 4 {
		s.badRequest(t, m, key, "Missing CHANNEL-NUMBER")
		return
	}
	num := uint16(v[0])<<8 | uint16(v[1])
	if num < MinChannel || num > MaxChannel {
		s.badRequest(t, m, key, "Channel Number Out Of Range")
		return
	}
	peer, err := getXORAddr(m, stun.AttrXORPeerAddress)
	if err != nil {
		s.badRequest(t, m, key, "Missing XOR-PEER-ADDRESS")
		return
	}
	if peer.Addr().Is6() != s.cfg.RelayAddr.Is6() {
		s.replyError(t, m, key, stun.CodePeerAddrFamilyMismatch, "Peer Address Family Mismatch")
		return
	}
	a.expire(s.now)
	byNum, byPeer := a.channelByNumber(num, s.now), a.channelByPeer(peer, s.now)
	if (byNum != nil && byNum.peer != peer) || (byPeer != nil && byPeer.number != num) {
		s.badRequest(t, m, key, "Channel Or Peer Already Bound")
		return
	}
	needPerm := !a.permitted(peer.Addr(), s.now)
	if (byNum == nil && len(a.channels) >= s.cfg.MaxChannels) || (needPerm && len(a.perms) >= s.cfg.MaxPermissions) {
		s.replyError(t, m, key, stun.CodeInsufficientCapacity, "Too Many Channels")
		return
	}
	a.permit(peer.Addr(), s.now, s.cfg.PermissionLifetime, s.cfg.MaxPermissions)
	if byNum != nil {
		byNum.expires = s.now.Add(s.cfg.ChannelLifetime)
	} else {
		a.channels = append(a.channels, channel{number: num, peer: peer, expires: s.now.Add(s.cfg.ChannelLifetime)})
	}
	s.reply(t, m, key, stun.ClassSuccessResponse)
}

func (s *Server) badRequest(t fiveTuple, m *stun.Message, key []byte, reason string) {
	s.stats.BadRequest++
	s.replyError(t, m, key, stun.CodeBadRequest, reason)
}
