package turnserver

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/pion/stun/v2"
)

// The TURN attributes pion/stun names but does not encode, each as a
// Setter or a getter over its raw value.

var errAttr = errors.New("turnserver: malformed attribute")

const protoUDP = 17 // REQUESTED-TRANSPORT value for UDP (an IANA protocol number)

// Address families of REQUESTED-ADDRESS-FAMILY.
const (
	familyIPv4 = 0x01
	familyIPv6 = 0x02
)

type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (a rawAttr) AddTo(m *stun.Message) error {
	m.Add(a.t, a.v)
	return nil
}

func lifetimeAttr(seconds uint32) stun.Setter {
	return rawAttr{stun.AttrLifetime, binary.BigEndian.AppendUint32(nil, seconds)}
}

// xorAddr encodes an XOR address attribute of type t.
type xorAddr struct {
	t  stun.AttrType
	ap netip.AddrPort
}

func (a xorAddr) AddTo(m *stun.Message) error {
	x := stun.XORMappedAddress{IP: a.ap.Addr().Unmap().AsSlice(), Port: int(a.ap.Port())}
	return x.AddToAs(m, a.t)
}

func getXORAddr(m *stun.Message, t stun.AttrType) (netip.AddrPort, error) {
	var x stun.XORMappedAddress
	if err := x.GetFromAs(m, t); err != nil {
		return netip.AddrPort{}, err
	}
	a, ok := netip.AddrFromSlice(x.IP)
	if !ok {
		return netip.AddrPort{}, errAttr
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(x.Port)), nil
}

// peerAddrs returns every XOR-PEER-ADDRESS of m, in order.
func peerAddrs(m *stun.Message) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	err := m.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
		ap, err := getXORAddr(m, stun.AttrXORPeerAddress)
		if err != nil {
			return err
		}
		out = append(out, ap)
		return nil
	})
	return out, err
}

func getUint32(m *stun.Message, t stun.AttrType) (uint32, bool, error) {
	v, err := m.Get(t)
	if errors.Is(err, stun.ErrAttributeNotFound) {
		return 0, false, nil
	}
	if err != nil || len(v) != 4 {
		return 0, true, errAttr
	}
	return binary.BigEndian.Uint32(v), true, nil
}

// getFirstByte reads an attribute whose first byte is its value and whose
// other bytes are reserved (REQUESTED-TRANSPORT, REQUESTED-ADDRESS-FAMILY).
func getFirstByte(m *stun.Message, t stun.AttrType) (byte, bool, error) {
	v, err := m.Get(t)
	if errors.Is(err, stun.ErrAttributeNotFound) {
		return 0, false, nil
	}
	if err != nil || len(v) != 4 {
		return 0, true, errAttr
	}
	return v[0], true, nil
}

// channelNumberAttr is CHANNEL-NUMBER: the number then two reserved bytes.
func channelNumberAttr(ch uint16) stun.Setter {
	return rawAttr{stun.AttrChannelNumber, []byte{byte(ch >> 8), byte(ch), 0, 0}}
}

func errorAttr(code int, reason string) stun.Setter {
	return stun.ErrorCodeAttribute{Code: stun.ErrorCode(code), Reason: []byte(reason)}
}

// knownAttrs are the comprehension-required attributes (below 0x8000) the
// server understands; any other in a request earns 420 Unknown Attribute.
var knownAttrs = []stun.AttrType{
	stun.AttrMappedAddress, stun.AttrUsername, stun.AttrMessageIntegrity, stun.AttrErrorCode,
	stun.AttrUnknownAttributes, stun.AttrRealm, stun.AttrNonce, stun.AttrXORMappedAddress,
	stun.AttrChannelNumber, stun.AttrLifetime, stun.AttrXORPeerAddress, stun.AttrData,
	stun.AttrXORRelayedAddress, stun.AttrEvenPort, stun.AttrRequestedTransport,
	stun.AttrDontFragment, stun.AttrReservationToken, stun.AttrRequestedAddressFamily,
	stun.AttrMessageIntegritySHA256, stun.AttrPasswordAlgorithm, stun.AttrUserhash,
	stun.AttrPriority, stun.AttrUseCandidate,
}

func unknownRequired(m *stun.Message) stun.UnknownAttributes {
	var out stun.UnknownAttributes
	for _, a := range m.Attributes {
		if a.Type >= 0x8000 {
			continue
		}
		known := false
		for _, k := range knownAttrs {
			if a.Type == k {
				known = true
				break
			}
		}
		if !known {
			out = append(out, a.Type)
		}
	}
	return out
}
