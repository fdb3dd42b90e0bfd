package stunmsg

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"

	"github.com/pion/stun/v2"
)

// TxID is a STUN transaction ID. Callers draw it from their seeded source.
type TxID = [stun.TransactionIDSize]byte

// Errors from parsing. All of them mean "drop the packet"; the caller counts
// them by reason.
var (
	ErrNotBinding      = errors.New("stunmsg: not a binding message")
	ErrNoUsername      = errors.New("stunmsg: binding request without USERNAME")
	ErrBadUsername     = errors.New("stunmsg: USERNAME is not ufrag:ufrag")
	ErrNoIntegrity     = errors.New("stunmsg: missing or malformed MESSAGE-INTEGRITY")
	ErrIntegrity       = errors.New("stunmsg: MESSAGE-INTEGRITY mismatch")
	ErrFingerprint     = errors.New("stunmsg: FINGERPRINT mismatch or misplaced")
	ErrNoPriority      = errors.New("stunmsg: missing or malformed PRIORITY")
	ErrRole            = errors.New("stunmsg: missing, duplicate or malformed ICE-CONTROLLING/ICE-CONTROLLED")
	ErrNoMappedAddress = errors.New("stunmsg: missing or malformed XOR-MAPPED-ADDRESS")
	ErrBadErrorCode    = errors.New("stunmsg: malformed ERROR-CODE")
)

// CodeRoleConflict is the 487 error an ICE agent answers when both sides
// claim the same role and the request's tie-breaker loses (RFC 8445 7.3.1.1).
const CodeRoleConflict = 487

// BindingRequest is an ICE connectivity check (RFC 8445 section 7.1.1).
type BindingRequest struct {
	TxID TxID
	// Username is "receiverUfrag:senderUfrag": the first part names the
	// agent that must answer, which is how a receiver finds the connection.
	Username string
	// Priority is what the sender's candidate would have as a peer-reflexive
	// candidate; the receiver uses it if it learns one from this request.
	Priority uint32
	// Controlling says which of ICE-CONTROLLING and ICE-CONTROLLED is sent.
	Controlling bool
	// TieBreaker resolves role conflicts: the larger value wins controlling.
	TieBreaker uint64
	// UseCandidate is the controlling agent's nomination of the pair.
	UseCandidate bool
}

var (
	bindingRequestType = stun.BindingRequest
	bindingSuccessType = stun.BindingSuccess
	bindingErrorType   = stun.BindingError
)

// Marshal encodes the request, signed with the receiver's password
// (short-term credentials) and followed by FINGERPRINT.
func (r BindingRequest) Marshal(password string) []byte {
	m := new(stun.Message)
	m.Reset()
	m.WriteHeader()
	m.SetType(bindingRequestType)
	m.TransactionID = r.TxID
	m.WriteTransactionID()
	m.Add(stun.AttrUsername, []byte(r.Username))
	var prio [4]byte
	binary.BigEndian.PutUint32(prio[:], r.Priority)
	m.Add(stun.AttrPriority, prio[:])
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], r.TieBreaker)
	if r.Controlling {
		m.Add(stun.AttrICEControlling, tb[:])
	} else {
		m.Add(stun.AttrICEControlled, tb[:])
	}
	if r.UseCandidate {
		m.Add(stun.AttrUseCandidate, nil)
	}
	return sign(m, password)
}

// sign appends MESSAGE-INTEGRITY (unless password is empty) and FINGERPRINT
// and returns a copy of the encoded message that the caller owns.
func sign(m *stun.Message, password string) []byte {
	if password != "" {
		if err := stun.NewShortTermIntegrity(password).AddTo(m); err != nil {
			panic("stunmsg: integrity after fingerprint: " + err.Error())
		}
	}
	if err := stun.Fingerprint.AddTo(m); err != nil {
		panic("stunmsg: fingerprint: " + err.Error())
	}
	return append([]byte(nil), m.Raw...)
}

// Decode parses b into m and checks the framing every peerlink message
// relies on: a whole STUN message with nothing after it, a FINGERPRINT (if
// present) that is last and correct, and a MESSAGE-INTEGRITY (if present) of
// the right size. It never panics on malformed input.
func Decode(b []byte, m *stun.Message) error {
	if !IsSTUN(b) {
		return errors.New("stunmsg: not a STUN message")
	}
	if err := stun.Decode(b, m); err != nil {
		return err
	}
	if int(m.Length)+HeaderSize != len(m.Raw) || m.Length%4 != 0 {
		return errors.New("stunmsg: STUN length does not match datagram")
	}
	for i, a := range m.Attributes {
		switch a.Type {
		case stun.AttrFingerprint:
			if i != len(m.Attributes)-1 {
				return ErrFingerprint
			}
			if stun.Fingerprint.Check(m) != nil {
				return ErrFingerprint
			}
		case stun.AttrMessageIntegrity:
			if len(a.Value) != 20 {
				return ErrNoIntegrity
			}
		}
	}
	return nil
}

// CheckIntegrity verifies MESSAGE-INTEGRITY with a short-term password. The
// message must have been accepted by Decode.
func CheckIntegrity(m *stun.Message, password string) error {
	v, err := m.Get(stun.AttrMessageIntegrity)
	if err != nil || len(v) != 20 {
		return ErrNoIntegrity
	}
	if stun.NewShortTermIntegrity(password).Check(m) != nil {
		return ErrIntegrity
	}
	return nil
}

// IsBindingRequest, IsBindingSuccess and IsBindingError classify a decoded
// message.
func IsBindingRequest(m *stun.Message) bool { return m.Type == bindingRequestType }
func IsBindingSuccess(m *stun.Message) bool { return m.Type == bindingSuccessType }
func IsBindingError(m *stun.Message) bool   { return m.Type == bindingErrorType }

// IsResponse reports whether m answers a request (success or error class).
func IsResponse(m *stun.Message) bool {
	return m.Type.Class == stun.ClassSuccessResponse || m.Type.Class == stun.ClassErrorResponse
}

// SplitUsername splits an ICE USERNAME "receiver:sender" into its parts.
func SplitUsername(u string) (receiver, sender string, ok bool) {
	receiver, sender, ok = strings.Cut(u, ":")
	if !ok || receiver == "" || sender == "" {
		return "", "", false
	}
	return receiver, sender, true
}

// Username returns only the USERNAME of a request, so that the receiver can
// find the password before checking integrity.
func Username(m *stun.Message) (string, error) {
	v, err := m.Get(stun.AttrUsername)
	if err != nil {
		return "", ErrNoUsername
	}
	return string(v), nil
}

// ParseBindingRequest reads the ICE attributes of a decoded Binding request.
// It does not check integrity: call CheckIntegrity with the password that
// the USERNAME selects first.
func ParseBindingRequest(m *stun.Message) (BindingRequest, error) {
	var r BindingRequest
	if !IsBindingRequest(m) {
		return r, ErrNotBinding
	}
	r.TxID = m.TransactionID
	u, err := Username(m)
	if err != nil {
		return r, err
	}
	if _, _, ok := SplitUsername(u); !ok {
		return r, ErrBadUsername
	}
	r.Username = u
	p, err := m.Get(stun.AttrPriority)
	if err != nil || len(p) != 4 {
		return r, ErrNoPriority
	}
	r.Priority = binary.BigEndian.Uint32(p)
	ing, errIng := m.Get(stun.AttrICEControlling)
	ed, errEd := m.Get(stun.AttrICEControlled)
	switch {
	case errIng == nil && errEd != nil && len(ing) == 8:
		r.Controlling, r.TieBreaker = true, binary.BigEndian.Uint64(ing)
	case errEd == nil && errIng != nil && len(ed) == 8:
		r.TieBreaker = binary.BigEndian.Uint64(ed)
	default:
		return r, ErrRole
	}
	r.UseCandidate = m.Contains(stun.AttrUseCandidate)
	return r, nil
}

// SuccessResponse encodes a Binding success response that tells the
// requester the address it was seen from. password signs it (the
// responder's own password for ICE; empty for none).
func SuccessResponse(tx TxID, mapped netip.AddrPort, password string) []byte {
	m := newMessage(bindingSuccessType, tx)
	addXORMapped(m, mapped)
	return sign(m, password)
}

// ErrorResponse encodes a Binding error response, e.g. 487 Role Conflict.
func ErrorResponse(tx TxID, code int, reason string, password string) []byte {
	m := newMessage(bindingErrorType, tx)
	attr := stun.ErrorCodeAttribute{Code: stun.ErrorCode(code), Reason: []byte(reason)}
	if err := attr.AddTo(m); err != nil {
		panic("stunmsg: error reason too long: " + err.Error())
	}
	return sign(m, password)
}

// PlainBindingRequest encodes a Binding request for a STUN server
// (RFC 8489): no credentials, FINGERPRINT only.
func PlainBindingRequest(tx TxID) []byte {
	return sign(newMessage(bindingRequestType, tx), "")
}

func newMessage(t stun.MessageType, tx TxID) *stun.Message {
	m := new(stun.Message)
	m.Reset()
	m.WriteHeader()
	m.SetType(t)
	m.TransactionID = tx
	m.WriteTransactionID()
	return m
}

func addXORMapped(m *stun.Message, a netip.AddrPort) {
	ip := a.Addr().Unmap()
	x := stun.XORMappedAddress{IP: ip.AsSlice(), Port: int(a.Port())}
	if err := x.AddTo(m); err != nil {
		panic("stunmsg: invalid mapped address " + a.String())
	}
}

// Response is a decoded Binding response.
type Response struct {
	TxID TxID
	// Success is false for an error response; Code then holds its number.
	Success bool
	Code    int
	// Mapped is the XOR-MAPPED-ADDRESS of a success response.
	Mapped netip.AddrPort
}

// ParseResponse reads a decoded Binding response. Integrity, where the
// caller requires it, is checked separately with CheckIntegrity.
func ParseResponse(m *stun.Message) (Response, error) {
	r := Response{TxID: m.TransactionID}
	switch {
	case IsBindingSuccess(m):
		r.Success = true
		a, err := MappedAddress(m)
		if err != nil {
			return r, err
		}
		r.Mapped = a
	case IsBindingError(m):
		v, err := m.Get(stun.AttrErrorCode)
		if err != nil || len(v) < 4 {
			return r, ErrBadErrorCode
		}
		r.Code = int(v[2]&0x7)*100 + int(v[3])
	default:
		return r, ErrNotBinding
	}
	return r, nil
}

// MappedAddress reads XOR-MAPPED-ADDRESS, checking its length first because
// pion's decoder assumes a well-formed value.
func MappedAddress(m *stun.Message) (netip.AddrPort, error) {
	v, err := m.Get(stun.AttrXORMappedAddress)
	if err != nil || !(len(v) == 8 && v[1] == 1 || len(v) == 20 && v[1] == 2) {
		return netip.AddrPort{}, ErrNoMappedAddress
	}
	var x stun.XORMappedAddress
	if err := x.GetFrom(m); err != nil {
		return netip.AddrPort{}, ErrNoMappedAddress
	}
	ip, ok := netip.AddrFromSlice(x.IP)
	if !ok {
		return netip.AddrPort{}, ErrNoMappedAddress
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(x.Port)), nil
}
