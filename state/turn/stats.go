package turn

// DropReason says why a datagram from the server was dropped. The network
// may deliver anything, so drops are counted, never fatal.
type DropReason uint8

const (
	// DropNotTURN: from the server but neither STUN nor ChannelData.
	DropNotTURN DropReason = iota
	// DropMalformed: a STUN message or ChannelData frame that does not
	// parse, or a response without an attribute it must carry.
	DropMalformed
	// DropUnknownTransaction: a response to no request in flight (late,
	// duplicate or forged). Dropped before any integrity computation.
	DropUnknownTransaction
	// DropIntegrity: MESSAGE-INTEGRITY wrong, or missing from a success
	// response to an authenticated request.
	DropIntegrity
	// DropUnexpected: a request, an indication other than Data, or a
	// response whose method does not match its transaction.
	DropUnexpected
	// DropUnknownChannel: ChannelData on a number we have not bound.
	DropUnknownChannel
	// DropNoPermission: a Data indication from a peer we gave no permission.
	DropNoPermission
	// DropTerminal: anything after the client closed or was lost.
	DropTerminal
	numDropReasons
)

// NumDropReasons sizes arrays indexed by DropReason.
const NumDropReasons = int(numDropReasons)

var dropNames = [...]string{"not-turn", "malformed", "unknown-transaction", "integrity", "unexpected",
	"unknown-channel", "no-permission", "terminal"}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return "invalid"
}

// Stats counts what the client did and refused.
type Stats struct {
	Drops [NumDropReasons]uint64 // indexed by DropReason
	// Retransmits counts requests sent again after an RTO.
	Retransmits uint64
	// StaleNonces counts 438 answers, each followed by a retry.
	StaleNonces uint64
	// Reallocations counts fresh Allocates after the old allocation was
	// found gone (437, or a probe's grant), and deletions of a stale
	// allocation met on Allocate.
	Reallocations uint64
	// Verifications counts Refreshes sent by Verify (a path through the
	// allocation went silent) or StreamReset; VerificationsLimited the Verify calls
	// refused because the last one was under VerifyInterval ago;
	// VerificationsInconclusive the verifications the server answered
	// nothing to, not even their probe.
	Verifications, VerificationsLimited, VerificationsInconclusive uint64
	// StreamResets counts the StreamReset calls that found an allocation
	// to verify; each starts a verification (Verifications) unless a
	// Refresh was in flight, which went again instead.
	StreamResets uint64
	// Probes counts Allocates sent while allocated to learn whether the
	// server still holds the allocation (realloc.go); ProbesHeld those
	// answered 437 (held: the silence that sent them was loss), and
	// ProbesUnanswered those that got no answer or no telling one (the
	// next probe after an unanswered one reuses its transaction ID). A
	// probe's grant counts as a re-allocation.
	Probes, ProbesHeld, ProbesUnanswered uint64
	// Reinstalls counts permissions and channels asked for again because
	// a path through them went silent (Client.Reinstall); RefreshLearned
	// the times two such silences at like ages shortened their refresh
	// period.
	Reinstalls, RefreshLearned uint64
	// UnsignedErrors counts error responses accepted without
	// MESSAGE-INTEGRITY (401 and 438 cannot carry one).
	UnsignedErrors uint64
	// ClockBackwards counts inputs whose now was before an earlier one.
	ClockBackwards uint64
	// FamilyFallbacks counts dual-stack Allocates answered 440 and asked
	// again for the server's default family (family.go).
	FamilyFallbacks uint64
	// AlternateChosen counts races that Config.Alternate won (race.go).
	AlternateChosen uint64
	// TransmitsDropped and EventsDropped count queue overflow (MaxQueued).
	TransmitsDropped, EventsDropped uint64
	// CooldownsDropped counts cooldowns forgotten early (MaxCooldowns).
	CooldownsDropped uint64
	// Refreshes, PermissionRefreshes and ChannelRefreshes count confirmed
	// renewals (not first installs).
	Refreshes, PermissionRefreshes, ChannelRefreshes uint64
	// Relayed traffic by framing.
	ChannelDataSent, IndicationsSent         uint64
	ChannelDataReceived, IndicationsReceived uint64
}
