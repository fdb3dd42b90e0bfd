package ice

import "time"

// Stats is what one connection's agent did and knows about its path, for
// metrics and tests. Counters only grow; the RTT and path fields describe
// the moment Stats was called. Every answer counted here is authenticated
// (MESSAGE-INTEGRITY with the peer's password) and came from the address
// the request went to: anything else is dropped, not counted.
type Stats struct {
	// ChecksSent counts connectivity checks, not their retransmissions.
	ChecksSent uint64
	// Retransmits counts resent checks (same transaction, RFC 8489 6.2.1).
	Retransmits uint64
	// ChecksAnswered counts checks answered, with success or an error
	// (a 487 role conflict, for example).
	ChecksAnswered uint64
	// ChecksLate counts answers to checks that had already given up (no
	// answer through every retransmission): the path's round trip outgrew
	// the check's schedule, behind a saturated uplink for example. A late
	// success still proves the pair (iceagent's late.go).
	ChecksLate uint64
	// ProbesSent counts liveness probes, on the selected pair and on the
	// backup (Config.BackupProbeInterval).
	ProbesSent uint64
	// ProbesAnswered counts probes answered before they counted as lost.
	ProbesAnswered uint64
	// ProbesLost counts probes still unanswered Config.ProbeLossAfter after
	// they left. A probe answered later still proves the path (and counts in
	// ProbesLate), so ProbesAnswered+ProbesLost never exceeds ProbesSent.
	ProbesLost uint64
	// ProbesLate counts answers to probes already counted lost.
	ProbesLate uint64
	// ResponsesSent counts our answers to the peer's requests.
	ResponsesSent uint64
	// RoleConflicts counts role switches forced by a conflict.
	RoleConflicts uint64
	// Switches counts moves from a silent selected pair to the backup
	// (Config.SwitchAfter).
	Switches uint64
	// Rechecks counts rounds that put failed pairs ranking above the
	// selected one back to waiting (Config.RecheckInterval).
	Rechecks uint64
	// Recoveries counts losses of the selected pair's candidate with no
	// succeeded pair to move to, after which the agent checked for a new
	// path (iceagent's recovery.go).
	Recoveries uint64
	// NominationsFailed counts nominations of a higher pair that went
	// unanswered through every retransmission; the pair is not nominated
	// again for Config.RecheckInterval.
	NominationsFailed uint64
	// Roams counts moves to the pair the peer moved to: its address
	// changed under the selected pair, or it withdrew the selected pair's
	// remote candidate (iceagent's roam.go).
	Roams uint64
	// RemotesForgotten counts peer-reflexive remote candidates forgotten
	// with their pairs: an address the peer left when the agent followed
	// it (iceagent's roam.go), or one evicted to make room (iceagent's requests.go).
	RemotesForgotten uint64
	// NominationsRetried counts nominations of a higher pair that went
	// unanswered through every retransmission while the peer answered
	// nothing at all, and were sent again (iceagent's nominate_unheard.go).
	NominationsRetried uint64

	// SmoothedRTT is RFC 6298's SRTT over RTT samples of answered probes
	// and of checks answered before any retransmission (Karn's rule: the
	// answer to a resent check cannot be matched to one send). Zero until
	// the first sample.
	SmoothedRTT time.Duration
	// LatestRTT is the most recent sample; zero until the first.
	LatestRTT time.Duration
	// RTTSamples counts the samples behind SmoothedRTT.
	RTTSamples uint64

	// HasPath reports whether a path is selected; Path is it.
	HasPath bool
	Path    Path
	// LastAnswerAt is when the last authenticated answer to any of our
	// checks or probes arrived, on any pair; zero before the first.
	LastAnswerAt time.Time
}
