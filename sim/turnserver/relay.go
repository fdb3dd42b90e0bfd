package turnserver

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/pion/stun/v2"
)

// ChannelData framing (RFC 8656 section 12.4) is written here rather than
// shared with the client in state/stunmsg on purpose: two independent
// implementations meeting in tests catch what one shared one would hide.

// sendIndication relays a Send indication's DATA to its peer (RFC 8656
// section 10.2). Indications are never answered, so problems are only
// counted.
func (s *Server) sendIndication(t fiveTuple, m *stun.Message) {
	a := s.lookup(t)
	if a == nil {
		s.stats.DropNoAllocation++
		return
	}
	peer, err := getXORAddr(m, stun.AttrXORPeerAddress)
	data, derr := m.Get(stun.AttrData)
	if err != nil || derr != nil {
		s.stats.DropBadIndication++
		return
	}
	if !a.permitted(peer.Addr(), s.now) {
		s.stats.DropNoPermission++
		return
	}
	s.stats.RelayedToPeer++
	s.emit(a.relayed, peer, slices.Clone(data))
}

// channelData relays a client's ChannelData message to the channel's peer
// (RFC 8656 section 12.6). Trailing padding, or its absence, is accepted.
func (s *Server) channelData(t fiveTuple, b []byte) {
	num := binary.BigEndian.Uint16(b)
	n := int(binary.BigEndian.Uint16(b[2:]))
	if 4+n > len(b) || num < MinChannel || num > MaxChannel {
		s.stats.DropMalformed++
		return
	}
	a := s.lookup(t)
	if a == nil {
		s.stats.DropNoAllocation++
		return
	}
	c := a.channelByNumber(num, s.now)
	if c == nil {
		s.stats.DropNoChannel++
		return
	}
	if !a.permitted(c.peer.Addr(), s.now) {
		s.stats.DropNoPermission++
		return
	}
	s.stats.RelayedToPeer++
	s.emit(a.relayed, c.peer, slices.Clone(b[4:4+n]))
}

// fromPeer relays a peer's datagram to the client: as ChannelData if the
// peer has a channel, else as a Data indication (RFC 8656 sections 10.3
// and 12.5). Only peers with a permission get through.
func (s *Server) fromPeer(a *allocation, peer netip.AddrPort, b []byte) {
	if s.lookup(a.tuple) == nil {
		s.stats.DropNoAllocation++
		return
	}
	if !a.permitted(peer.Addr(), s.now) {
		s.stats.DropNoPermission++
		return
	}
	s.stats.RelayedToClient++
	if c := a.channelByPeer(peer, s.now); c != nil {
		s.emit(a.tuple.server, a.tuple.client, s.frameChannelData(c.number, b))
		return
	}
	m := new(stun.Message)
	err := m.Build(
		stun.NewTransactionIDSetter(s.txID()),
		stun.NewType(stun.MethodData, stun.ClassIndication),
		xorAddr{stun.AttrXORPeerAddress, peer},
		rawAttr{stun.AttrData, b},
	)
	if err != nil {
		s.stats.DropMalformed++ // only a datagram too large for a STUN attribute gets here
		return
	}
	s.emit(a.tuple.server, a.tuple.client, m.Raw)
}

func (s *Server) frameChannelData(num uint16, payload []byte) []byte {
	size := 4 + len(payload)
	if s.cfg.PadChannelData {
		size = (size + 3) &^ 3
	}
	out := make([]byte, size)
	binary.BigEndian.PutUint16(out, num)
	binary.BigEndian.PutUint16(out[2:], uint16(len(payload)))
	copy(out[4:], payload)
	return out
}
