package turn

import (
	"errors"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// Transmit is a datagram the client wants sent from Src to Dst. Everything
// PollTransmit returns is Control class (TURN and STUN signalling); what
// Send wraps carries the class the caller asked for.
type Transmit struct {
	Src, Dst netip.AddrPort
	// Payload belongs to the caller once returned; the client keeps no
	// reference to it.
	Payload []byte
	Class   gso.Class
	ECN     gso.ECN
	// Transport is how Dst is reached (Config.Transport): UDP is a
	// datagram; TCP and TLS are bytes on the driver's stream to Dst.
	Transport Transport
}

// State is where the client is in its life.
type State uint8

const (
	// StateBinding: the first Binding request is in flight; the server has
	// not answered yet.
	StateBinding State = iota
	// StateAllocating: Allocate (or its authenticated retry) is in flight.
	StateAllocating
	// StateAllocated: the relayed address is usable.
	StateAllocated
	// StateReleasing: Close sent a Refresh with LIFETIME 0 and waits for
	// the answer or its timeout.
	StateReleasing
	// StateClosed: released at the caller's request. Terminal.
	StateClosed
	// StateLost: the relay failed (see LostReason). Terminal.
	StateLost
)

var stateNames = [...]string{"binding", "allocating", "allocated", "releasing", "closed", "lost"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "invalid"
}

// Terminal reports whether the client will never send again.
func (s State) Terminal() bool { return s == StateClosed || s == StateLost }

// LostReason says why a relay was lost.
type LostReason uint8

const (
	// LostTimeout: a request went unanswered through its whole
	// retransmission schedule and nothing else came from the server
	// meanwhile: the server is gone or unreachable.
	LostTimeout LostReason = iota + 1
	// LostAuth: the server refused our credentials: a 401 to a request that
	// carried them, or an unsigned 400 to an authenticated Allocate or
	// Refresh (pion/turn answers a wrong password with 400 Bad Request).
	LostAuth
	// LostRejected: the server refused the allocation with another error
	// (Event.Code holds it), e.g. 486 Allocation Quota Reached or 508
	// Insufficient Capacity.
	LostRejected
	// LostRetries: the server kept asking us to start over (438 Stale Nonce
	// or 437 Allocation Mismatch) more often in a row than the configured
	// bound; looping further would only burn the server's time and ours.
	LostRetries
	// LostInternal: the Node found the client's timer stuck at a time it
	// had already run (a bug) and removed the relay rather than spin or
	// crash; Stats.StuckTimers counts it.
	LostInternal
	// LostLocalAddress: the application removed the local address the
	// relay's allocation was made from (node.RemoveLocalAddress); the
	// server can no longer reach us there.
	LostLocalAddress
)

var lostNames = [...]string{LostTimeout: "timeout", LostAuth: "auth", LostRejected: "rejected", LostRetries: "retries", LostInternal: "internal",
	LostLocalAddress: "local-address"}

func (r LostReason) String() string {
	if r > 0 && int(r) < len(lostNames) {
		return lostNames[r]
	}
	return "none"
}

// EventKind tells events apart.
type EventKind uint8

const (
	// EventReflexive: a Binding response told us our server-reflexive
	// address (Reflexive), the first time or because it changed. It is a
	// candidate for the node.
	EventReflexive EventKind = iota + 1
	// EventAllocated: the server granted an allocation (Relayed,
	// Additional, Reflexive, Lifetime). After a re-allocation it comes
	// again with the new address. Code is ADDRESS-ERROR-CODE's when a
	// dual-stack request got one family only (family.go).
	EventAllocated
	// EventWithdrawn: the relayed address Relayed (and Additional) is no longer valid (lost,
	// closed, or replaced by a fresh allocation). The node withdraws the
	// relayed candidate and moves connections that used it.
	EventWithdrawn
	// EventPermitted: a permission for Peer's IP was installed for the first
	// time on this allocation.
	EventPermitted
	// EventChannelBound: Channel is bound to Peer for the first time on this
	// allocation; Send now produces ChannelData for Peer.
	EventChannelBound
	// EventPeerFailed: the server refused (Code) or never answered a
	// permission or channel for Peer; the client stopped asking. The relay
	// itself stays up.
	EventPeerFailed
	// EventLost: the relay is lost for good (Reason, Code). Terminal; an
	// EventWithdrawn precedes it if an allocation existed.
	EventLost
	// EventClosed: Close finished (the server acknowledged LIFETIME 0, or
	// the release timed out). Terminal.
	EventClosed
)

var eventNames = [...]string{EventReflexive: "reflexive", EventAllocated: "allocated", EventWithdrawn: "withdrawn",
	EventPermitted: "permitted", EventChannelBound: "channel-bound", EventPeerFailed: "peer-failed",
	EventLost: "lost", EventClosed: "closed"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "invalid"
}

// Event is an output for the owner of the client. Only the fields its Kind
// names are set.
type Event struct {
	Kind    EventKind
	Relayed netip.AddrPort
	// Additional is a dual-stack allocation's relayed address of the
	// other family than Relayed's (EventAllocated, EventWithdrawn); zero
	// when the allocation has one family.
	Additional netip.AddrPort
	Reflexive  netip.AddrPort
	// Lifetime is the allocation lifetime the server granted.
	Lifetime time.Duration
	Peer     netip.AddrPort
	Channel  uint16
	Reason   LostReason
	// Code is the STUN error code behind the event, 0 if none.
	Code int
}

// Sentinel errors for caller misuse and refused commands.
var (
	ErrConfig          = errors.New("turn: invalid config")
	ErrNotAllocated    = errors.New("turn: no allocation")
	ErrTerminal        = errors.New("turn: client closed or lost")
	ErrNoPermission    = errors.New("turn: no permission for peer")
	ErrInvalidPeer     = errors.New("turn: peer address invalid or of another family than the relay")
	ErrTooManyPeers    = errors.New("turn: permission limit reached")
	ErrTooManyChannels = errors.New("turn: channel limit reached")
	ErrChannelCooldown = errors.New("turn: every free channel number is cooling down")
	// ErrPayloadTooLarge: Send of a payload larger than Config.MaxPayload.
	ErrPayloadTooLarge = errors.New("turn: payload larger than the relay's MaxPayload")
)

// STUN error codes the client acts on (RFC 8489 section 14.8, RFC 8656
// section 19). Event.Code carries these and any other code the server sent.
const (
	CodeBadRequest         = 400
	CodeUnauthorized       = 401
	CodeForbidden          = 403
	CodeAllocationMismatch = 437
	CodeStaleNonce         = 438
)
