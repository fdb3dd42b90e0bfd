package iceagent

// DropReason says why an agent refused an inbound STUN message
// (HandleRequest, HandleResponse). The node counts it under its own reason
// of the same name (node.DropReason, which adds the drops only the node's
// routing finds).
type DropReason uint8

const (
	DropNone DropReason = iota
	// DropMalformed: not a well-formed STUN message of the expected kind.
	DropMalformed
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
	// DropCandidateLimit: a peer-reflexive candidate beyond the bound.
	DropCandidateLimit
	numDropReasons
)

// NumDropReasons sizes arrays indexed by DropReason.
const NumDropReasons = int(numDropReasons)

var dropNames = [...]string{"none", "malformed", "username", "integrity",
	"unknown-transaction", "source-mismatch", "failed", "candidate-limit"}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return "invalid"
}
