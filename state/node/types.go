package node

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
	"github.com/peerlink/peerlink/state/turn"
)

// ConnID names a connection. The application chooses it (a peer ID, a
// tunnel index) and uses it in every command.
type ConnID uint64

// Re-exported from package ice so that applications need only this package.
type (
	Role        = ice.Role
	Credentials = ice.Credentials
	Path        = ice.Path
	FailReason  = ice.FailReason
	Candidate   = stunmsg.Candidate
)

const (
	Controlling = ice.Controlling
	Controlled  = ice.Controlled

	CandidateTimeout = ice.CandidateTimeout
	ChecksFailed     = ice.ChecksFailed
	ProbeTimeout     = ice.ProbeTimeout
	RelayLost        = ice.RelayLost
	ClosedByApp      = ice.ClosedByApp
	Internal         = ice.Internal
)

// Transmit is one datagram to send. The driver queues it in the gso queue
// with its Class, so that Control (every STUN message) overtakes Data.
type Transmit struct {
	// Src is the local address to send from; Dst the destination.
	Src, Dst netip.AddrPort
	// Payload is valid until the next call into the Node; for Data it is the
	// very slice the application passed to Send, so it must be queued
	// (copied) before the application reuses that buffer.
	Payload []byte
	Class   gso.Class
	ECN     gso.ECN
	// Transport is how Dst is reached: turn.UDP (the zero value) for
	// every datagram but those to a relay added WithTransport(TCP or
	// TLS), which go on the driver's stream to Dst instead of the UDP
	// socket (see drivers, streams).
	Transport Transport
}

// Transport is how a relay's server is reached (turn.Transport).
type Transport = turn.Transport

// The transports a relay may use (WithTransport).
const (
	UDP = turn.UDP
	TCP = turn.TCP
	TLS = turn.TLS
)

// Event is an output for the application; the concrete types below are all
// the events there are.
type Event interface {
	// ConnID is the connection the event is about.
	ConnID() ConnID
	String() string
}

// CandidateGathered carries a local candidate to signal to the peer of Conn.
type CandidateGathered struct {
	Conn      ConnID
	Candidate Candidate
}

// Connected: the first path was selected; Send now transmits directly.
type Connected struct {
	Conn ConnID
	Path Path
}

// PathChanged: the connection moved to a different (better) path.
type PathChanged struct {
	Conn ConnID
	Path Path
}

// RoleChanged: a role conflict flipped our ICE role. Informational.
type RoleChanged struct {
	Conn ConnID
	Role Role
}

// Failed: the connection stopped for good. Its state stays until Close or
// a new Connect for the same ID; Send returns ErrConnFailed meanwhile.
type Failed struct {
	Conn   ConnID
	Reason FailReason
}

// Closed: the application closed the connection. Reason is always
// ClosedByApp; it is there so that "why did this connection end" has one
// typed answer across Failed and Closed.
type Closed struct {
	Conn   ConnID
	Reason FailReason
}

// CandidateWithdrawn: a local candidate of Conn is gone (its relay's
// allocation ended); signal it so that the peer calls
// RemoveRemoteCandidate.
type CandidateWithdrawn struct {
	Conn      ConnID
	Candidate Candidate
}

// RelayFailed: the relay at Server failed (it stopped answering, or
// refused our credentials or the allocation). Its candidates were withdrawn
// and the connections on it moved or failed with the reason RelayLost just
// before. It is about a relay, as Failed is about a connection: ConnID
// returns 0. Unless Config.RelayRetry is negative the Node tries the relay
// again after RetryIn with a fresh allocation (and reports each failure
// again); with RetryIn 0 the relay is gone and the application may
// AddRelay again. Its String and a driver's log name it relay-lost, the
// name they had before the type was renamed, so that traces and log
// filters stay as they were.
type RelayFailed struct {
	Server netip.AddrPort
	Reason turn.LostReason
	// Code is the STUN error code behind it, 0 if none.
	Code int
	// RetryIn is when the Node tries the relay again, 0 if never.
	RetryIn time.Duration
}

func (e CandidateGathered) ConnID() ConnID  { return e.Conn }
func (e CandidateWithdrawn) ConnID() ConnID { return e.Conn }
func (e RelayFailed) ConnID() ConnID        { return 0 }
func (e Connected) ConnID() ConnID          { return e.Conn }
func (e PathChanged) ConnID() ConnID        { return e.Conn }
func (e RoleChanged) ConnID() ConnID        { return e.Conn }
func (e Failed) ConnID() ConnID             { return e.Conn }
func (e Closed) ConnID() ConnID             { return e.Conn }

func (e CandidateGathered) String() string {
	return fmt.Sprintf("conn %d candidate-gathered %s", e.Conn, e.Candidate.Marshal())
}
func (e CandidateWithdrawn) String() string {
	return fmt.Sprintf("conn %d candidate-withdrawn %s", e.Conn, e.Candidate.Marshal())
}
func (e RelayFailed) String() string {
	if e.RetryIn > 0 {
		return fmt.Sprintf("relay-lost %s %s code=%d retry-in=%v", e.Server, e.Reason, e.Code, e.RetryIn)
	}
	return fmt.Sprintf("relay-lost %s %s code=%d", e.Server, e.Reason, e.Code)
}
func (e Connected) String() string   { return fmt.Sprintf("conn %d connected %s", e.Conn, e.Path) }
func (e PathChanged) String() string { return fmt.Sprintf("conn %d path-changed %s", e.Conn, e.Path) }
func (e RoleChanged) String() string { return fmt.Sprintf("conn %d role-changed %s", e.Conn, e.Role) }
func (e Failed) String() string      { return fmt.Sprintf("conn %d failed %s", e.Conn, e.Reason) }
func (e Closed) String() string      { return fmt.Sprintf("conn %d closed", e.Conn) }

// Stats counts what the Node dropped or corrected, by reason.
type Stats struct {
	// ClockBackwards counts inputs whose now was before an earlier one;
	// the Node used the earlier time instead, and carries on from there.
	ClockBackwards uint64
	// ClockJumps counts inputs whose now lay more than Config.MaxLateness
	// after the earliest deadline; the Node treated the gap as a pause.
	ClockJumps uint64
	// ConnsRefused counts Connects refused at Config.MaxConns.
	ConnsRefused uint64
	// Dropped counts inbound datagrams dropped, indexed by DropReason.
	Dropped [NumDropReasons]uint64
	// PendingDropped counts Sends dropped because the pre-connect buffer
	// of the connection was full.
	PendingDropped uint64
	// StunTimeouts counts STUN server requests that got no answer.
	StunTimeouts uint64
	// RelaySendErrors counts datagrams, permissions and channels a relay
	// client refused (over its bounds, or no allocation at that instant).
	RelaySendErrors uint64
	// PeerRelaysReplaced counts silent paths given up because the peer
	// signalled a new relay candidate from the same server (verify.go).
	PeerRelaysReplaced uint64
	// StuckTimers counts deadlines that did not move past the time they
	// ran at: an internal fault. The connection failed with Internal, or
	// the relay was removed with LostInternal, instead of the Node
	// spinning in HandleTimeout; a driver logs each at ERROR.
	StuckTimers uint64
	// Restarts counts ICE restarts started (RestartICE with the peer's
	// credentials); RestartsFailed those whose new agent failed, leaving
	// the connection on the agent it had (restart.go).
	Restarts, RestartsFailed uint64
	// RelayRetries counts fresh clients started on a lost relay
	// (Config.RelayRetry).
	RelayRetries uint64
}

// Drops returns the drop count for one reason.
func (s Stats) Drops(r DropReason) uint64 { return s.Dropped[r] }

// Sentinel errors for caller misuse.
var (
	ErrConfig       = errors.New("node: invalid config")
	ErrUnknownConn  = errors.New("node: unknown connection")
	ErrConnFailed   = errors.New("node: connection failed")
	ErrCredentials  = errors.New("node: invalid credentials")
	ErrUfragInUse   = errors.New("node: local ufrag already used by another connection")
	ErrInvalidAddr  = errors.New("node: invalid address")
	ErrTooManyAddrs = errors.New("node: local address limit reached")
	ErrEmptyPayload = errors.New("node: empty payload")
	// ErrPayloadTooLarge: Send of a payload larger than the connection's
	// MaxPayload; the error Send returns wraps it with both sizes.
	ErrPayloadTooLarge = errors.New("node: payload larger than the connection's maximum payload")
	ErrRelayExists     = errors.New("node: relay already added for this server")
	ErrUnknownRelay    = errors.New("node: no relay for this server")
	ErrTooManyRelays   = errors.New("node: relay limit reached")
	ErrTooManyConns    = errors.New("node: connection limit reached")
	// ErrPendingFull: Send on a connection that is still connecting (or
	// recovering a lost path) found its buffer (Config.PendingMax) full; the payload was dropped and
	// counted in Stats.PendingDropped.
	ErrPendingFull = errors.New("node: pre-connect buffer full")
	// ErrTooManyCandidates: AddRemoteCandidate beyond
	// ice.Config.MaxRemoteCandidates.
	ErrTooManyCandidates = ice.ErrTooManyCandidates
	// ErrInvalidCandidate: AddRemoteCandidate with an address no path can
	// use (invalid or unspecified, or port 0).
	ErrInvalidCandidate = ice.ErrInvalidCandidate
)
