package node

import "github.com/peerlink/peerlink/state/stunmsg"

// ParseCandidate reads a candidate in the SDP attribute form that
// Candidate.Marshal writes (RFC 8839 "candidate:..."), as signalled by the
// peer, for AddRemoteCandidate.
func ParseCandidate(s string) (Candidate, error) { return stunmsg.ParseCandidate(s) }
