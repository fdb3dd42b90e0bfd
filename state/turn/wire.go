package turn

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// The TURN messages of RFC 8656 over pion/stun's encoder. stunmsg has the
// ICE Binding messages and ChannelData framing; the TURN methods live here
// because only this package speaks them.

const (
	minChannel = stunmsg.MinChannel
	maxChannel = stunmsg.MaxChannel
	// protoUDP is REQUESTED-TRANSPORT's value for UDP (the IP protocol
	// number 17, RFC 8656 section 18.7).
	protoUDP = 17
	// maxTextAttr bounds REALM and NONCE (RFC 8489 sections 14.9 and 14.10:
	// fewer than 128 characters, at most 763 bytes).
	maxTextAttr = 763
)

var (
	typeBindingRequest    = stun.NewType(stun.MethodBinding, stun.ClassRequest)
	typeAllocateRequest   = stun.NewType(stun.MethodAllocate, stun.ClassRequest)
	typeRefreshRequest    = stun.NewType(stun.MethodRefresh, stun.ClassRequest)
	typePermissionRequest = stun.NewType(stun.MethodCreatePermission, stun.ClassRequest)
	typeChannelRequest    = stun.NewType(stun.MethodChannelBind, stun.ClassRequest)
	typeSendIndication    = stun.NewType(stun.MethodSend, stun.ClassIndication)
	typeDataIndication    = stun.NewType(stun.MethodData, stun.ClassIndication)
)

// credentials are what an authenticated request carries. A zero value
// (no key) means the server has not asked for authentication yet.
type credentials struct {
	username, realm, nonce string
	key                    stun.MessageIntegrity
}

func (c *credentials) valid() bool { return len(c.key) > 0 }

// request is what varies between the requests the client sends.
type request struct {
	kind     txKind
	lifetime time.Duration // Allocate, Refresh (0 deletes)
	family   Family        // Allocate
	peer     netip.AddrPort
	channel  uint16
	// verify marks a verification's Refresh or probe (verify.go): a
	// short schedule, kept across the retries after 401 and 438.
	verify bool
	// probe marks an Allocate sent while allocated, to learn whether the
	// server still holds the allocation (realloc.go): 437 says it does, a
	// success says it did not and is the new one.
	probe bool
}

// encodeRequest builds the request r with transaction ID tx, signed with
// cred when it holds a key, and followed by FINGERPRINT.
func encodeRequest(r request, tx stunmsg.TxID, cred *credentials) []byte {
	m := newMessage(r.kind.messageType(), tx)
	switch r.kind {
	case txAllocate:
		m.Add(stun.AttrRequestedTransport, []byte{protoUDP, 0, 0, 0})
		addFamily(m, r.family)
		addLifetime(m, r.lifetime)
	case txRefresh:
		addLifetime(m, r.lifetime)
	case txPermission:
		addPeer(m, r.peer)
	case txChannel:
		m.Add(stun.AttrChannelNumber, []byte{byte(r.channel >> 8), byte(r.channel), 0, 0})
		addPeer(m, r.peer)
	}
	// Binding carries no credentials: it must work before we have a nonce,
	// and RFC 8656 servers answer it without authentication.
	if r.kind != txBinding && cred.valid() {
		m.Add(stun.AttrUsername, []byte(cred.username))
		m.Add(stun.AttrRealm, []byte(cred.realm))
		m.Add(stun.AttrNonce, []byte(cred.nonce))
		if err := cred.key.AddTo(m); err != nil {
			panic("turn: integrity after fingerprint: " + err.Error())
		}
	}
	return finish(m)
}

// encodeSendIndication wraps payload for peer (RFC 8656 section 11). Send
// indications are never authenticated.
func encodeSendIndication(tx stunmsg.TxID, peer netip.AddrPort, payload []byte) []byte {
	m := newMessage(typeSendIndication, tx)
	addPeer(m, peer)
	m.Add(stun.AttrData, payload)
	return finish(m)
}

func newMessage(t stun.MessageType, tx stunmsg.TxID) *stun.Message {
	m := new(stun.Message)
	m.Reset()
	m.WriteHeader()
	m.SetType(t)
	m.TransactionID = tx
	m.WriteTransactionID()
	return m
}

func finish(m *stun.Message) []byte {
	if err := stun.Fingerprint.AddTo(m); err != nil {
		panic("turn: fingerprint: " + err.Error())
	}
	return append([]byte(nil), m.Raw...)
}

func addLifetime(m *stun.Message, d time.Duration) {
	m.Add(stun.AttrLifetime, binary.BigEndian.AppendUint32(nil, uint32(d/time.Second)))
}

func addPeer(m *stun.Message, peer netip.AddrPort) {
	x := stun.XORMappedAddress{IP: peer.Addr().Unmap().AsSlice(), Port: int(peer.Port())}
	if err := x.AddToAs(m, stun.AttrXORPeerAddress); err != nil {
		panic("turn: invalid peer address " + peer.String())
	}
}

// errMalformed is any attribute the client needs and cannot read.
var errMalformed = errors.New("turn: malformed attribute")

// xorAddress reads an XOR-*-ADDRESS attribute, checking its length and
// family first because pion's decoder assumes a well-formed value.
func xorAddress(m *stun.Message, t stun.AttrType) (netip.AddrPort, error) {
	v, err := m.Get(t)
	if err != nil || !(len(v) == 8 && v[1] == 1 || len(v) == 20 && v[1] == 2) {
		return netip.AddrPort{}, errMalformed
	}
	var x stun.XORMappedAddress
	if err := x.GetFromAs(m, t); err != nil {
		return netip.AddrPort{}, errMalformed
	}
	ip, ok := netip.AddrFromSlice(x.IP)
	if !ok {
		return netip.AddrPort{}, errMalformed
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(x.Port)), nil
}

// lifetime reads LIFETIME; ok is false when it is absent or malformed.
func lifetime(m *stun.Message) (time.Duration, bool) {
	v, err := m.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second, true
}

// errorCode reads ERROR-CODE as its number (300-699), or 0 when absent or
// malformed.
func errorCode(m *stun.Message) int {
	v, err := m.Get(stun.AttrErrorCode)
	if err != nil || len(v) < 4 {
		return 0
	}
	code := int(v[2]&0x7)*100 + int(v[3])
	if code < 300 || code > 699 || v[3] > 99 {
		return 0
	}
	return code
}

// text reads REALM or NONCE, refusing empty and oversized values.
func text(m *stun.Message, t stun.AttrType) (string, bool) {
	v, err := m.Get(t)
	if err != nil || len(v) == 0 || len(v) > maxTextAttr {
		return "", false
	}
	return string(v), true
}

// peekResponse reads, from raw bytes and before any decoding or crypto, the
// message class and the transaction ID, so that messages that answer no
// request of ours can be dropped cheaply.
func peekHeader(b []byte) (class stun.MessageClass, method stun.Method, tx stunmsg.TxID) {
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(b[0:2]))
	copy(tx[:], b[8:20])
	return t.Class, t.Method, tx
}
