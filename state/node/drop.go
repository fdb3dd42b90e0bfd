package node

import "github.com/peerlink/peerlink/state/internal/iceagent"

// DropReason says why the Node dropped an inbound datagram. The Node counts
// drops by reason instead of failing: the network may send anything. The
// reasons an ICE agent finds (integrity, USERNAME, transactions) come from
// DropReason; the rest are the Node's own routing decisions. The
// numbers are stable: Stats.Dropped is indexed by them.
type DropReason uint8

const (
	DropNone DropReason = iota
	// DropMalformed: not a well-formed STUN message of the expected kind.
	DropMalformed
	// DropUnknownUfrag: a check for credentials no connection has.
	DropUnknownUfrag
	// DropUsername: USERNAME does not match the connection's ufrags.
	DropUsername
	// DropIntegrity: MESSAGE-INTEGRITY missing or wrong.
	DropIntegrity
	// DropUnknownTransaction: a response to no request of ours.
	DropUnknownTransaction
	// DropSourceMismatch: a response from other than the request's
	// destination (RFC 8445 7.2.5.2.1).
	DropSourceMismatch
	// DropFailed: the connection already failed.
	DropFailed
	// DropUnknownPath: application data from a path no connection owns.
	DropUnknownPath
	// DropChannelData is no longer raised: first byte 64-79 is ChannelData
	// only from a relay's server (whose client counts its own drops), and
	// the application's from anyone else. Kept so that the reasons' numbers
	// and names stay stable.
	DropChannelData
	// DropUnexpectedSTUN: a STUN message of a method or class we never
	// expect (indications, other methods).
	DropUnexpectedSTUN
	// DropCandidateLimit: a peer-reflexive candidate beyond the bound.
	DropCandidateLimit
	// DropRemovedAddress: a datagram that arrived on a local address the
	// program removed (RemoveLocalAddress), still in the socket's queue or
	// a driver's buffers.
	DropRemovedAddress
	numDropReasons
)

// NumDropReasons sizes arrays indexed by DropReason.
const NumDropReasons = int(numDropReasons)

var dropNames = [...]string{"none", "malformed", "unknown-ufrag", "username", "integrity",
	"unknown-transaction", "source-mismatch", "failed", "unknown-path", "channeldata",
	"unexpected-stun", "candidate-limit", "removed-address"}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return "invalid"
}

// fromICE is the Node's reason for each reason an agent returns.
var fromICE = [iceagent.NumDropReasons]DropReason{
	iceagent.DropNone:               DropNone,
	iceagent.DropMalformed:          DropMalformed,
	iceagent.DropUsername:           DropUsername,
	iceagent.DropIntegrity:          DropIntegrity,
	iceagent.DropUnknownTransaction: DropUnknownTransaction,
	iceagent.DropSourceMismatch:     DropSourceMismatch,
	iceagent.DropFailed:             DropFailed,
	iceagent.DropCandidateLimit:     DropCandidateLimit,
}

// dropReason is the Node's reason for r.
func dropReason(r iceagent.DropReason) DropReason { return fromICE[r] }
