package iceagent

import (
	"net/netip"

	"github.com/peerlink/peerlink/state/ice"
)

// EventKind tells events apart.
type EventKind uint8

const (
	// EventConnected: the first path was selected (Path).
	EventConnected EventKind = iota + 1
	// EventPathChanged: a different path was selected (Path).
	EventPathChanged
	// EventFailed: the agent stopped for good (Reason).
	EventFailed
	// EventRoleChanged: a role conflict flipped our role (Role).
	EventRoleChanged
	// EventPathLost: the selected pair (Path) lost a candidate and no
	// other pair has succeeded; the agent checks for a new one and reports
	// it with EventPathChanged, or fails with Reason when the lost path's
	// probe timeout passes first (recovery.go).
	EventPathLost
)

// Event is an agent output for the owner of the agent.
type Event struct {
	Kind   EventKind
	Path   ice.Path
	Reason ice.FailReason
	Role   ice.Role
}

// Transmit is a STUN message the agent wants sent. Every agent transmit is
// control traffic.
type Transmit struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}
