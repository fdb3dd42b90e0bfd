package ice

import (
	"errors"
	"math/rand/v2"
	"net/netip"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// Role is the ICE role: the controlling agent nominates, the controlled one
// follows.
type Role uint8

const (
	Controlling Role = iota
	Controlled
)

func (r Role) String() string {
	if r == Controlling {
		return "controlling"
	}
	return "controlled"
}

// Credentials are an agent's short-term ICE credentials.
type Credentials struct {
	Ufrag, Pwd string
}

// iceChars are RFC 8839's ice-char: 64 symbols, 6 bits each.
const iceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// Credential lengths: 8 ice-chars give 48 random bits (RFC 8445 asks for at
// least 24 in the ufrag), 24 give 144 bits (at least 128 for the password).
const (
	UfragLen = 8
	PwdLen   = 24
)

// NewCredentials draws fresh credentials from the seeded source.
func NewCredentials(rng *rand.Rand) Credentials {
	return Credentials{Ufrag: randString(rng, UfragLen), Pwd: randString(rng, PwdLen)}
}

func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = iceChars[rng.IntN(len(iceChars))]
	}
	return string(b)
}

// Valid reports whether the credentials meet RFC 8445's minimum lengths
// (4 ufrag and 22 password characters) and carry no ':' (the USERNAME
// separator).
func (c Credentials) Valid() bool {
	return len(c.Ufrag) >= 4 && len(c.Ufrag) <= 256 && len(c.Pwd) >= 22 && len(c.Pwd) <= 256 &&
		!containsColon(c.Ufrag)
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// Path is a candidate pair the connection uses: packets leave from
// Local.Base toward Remote.Addr. On a relayed path Local is the relay
// candidate and its Base the allocation, which the owner of the relay wraps
// in ChannelData.
type Path struct {
	Local, Remote stunmsg.Candidate
}

// Src is the local address packets of the path leave from.
func (p Path) Src() netip.AddrPort { return p.Local.Base }

// Dst is where packets of the path go.
func (p Path) Dst() netip.AddrPort { return p.Remote.Addr }

// ThroughOurRelay reports whether the path leaves from our TURN allocation
// (its local candidate is our relayed address). A path to the peer's
// relayed address from one of our own addresses is relayed too, by the
// peer's server, but not through ours: this is false for it.
func (p Path) ThroughOurRelay() bool { return p.Local.Type == stunmsg.Relay }

func (p Path) String() string {
	return p.Local.Type.String() + " " + p.Src().String() + " -> " + p.Remote.Type.String() + " " + p.Dst().String()
}

// FailReason says why a connection failed.
type FailReason uint8

const (
	// CandidateTimeout: no usable remote candidate within CandidateTimeout.
	CandidateTimeout FailReason = iota + 1
	// ChecksFailed: every candidate pair failed its checks.
	ChecksFailed
	// ProbeTimeout: the selected path went silent for ProbeTimeout.
	ProbeTimeout
	// RelayLost: the relay under the selected path was lost (TURN work).
	RelayLost
	// ClosedByApp: the application closed the connection (node's Closed
	// event carries it).
	ClosedByApp
	// Internal: peerlink found its own state inconsistent (a bug: a
	// timer that did not move past the time it ran at) and ended the
	// connection rather than spin or crash. The Node counts it
	// (Stats.StuckTimers) and a driver logs it at ERROR; connecting again
	// starts afresh.
	Internal
)

var reasonNames = [...]string{CandidateTimeout: "CandidateTimeout", ChecksFailed: "ChecksFailed",
	ProbeTimeout: "ProbeTimeout", RelayLost: "RelayLost", ClosedByApp: "ClosedByApp", Internal: "Internal"}

func (r FailReason) String() string {
	if r > 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "none"
}

// Sentinel errors for misuse. ErrTooManyCandidates and ErrInvalidCandidate
// reach applications through node's AddRemoteCandidate.
var (
	ErrConfig            = errors.New("ice: invalid config")
	ErrTooManyCandidates = errors.New("ice: candidate limit reached")
	ErrInvalidCandidate  = errors.New("ice: candidate address invalid")
)
