package iceagent

// This file holds what the controlling agent does when its nomination of
// a higher pair gives up while the peer has answered nothing at all, on
// any pair, since the nomination went out.
//
// A slow uplink saturated by the peer's own load holds everything the
// peer sends (answers to our checks and probes alike) in its kernel send
// buffer for longer than a check lives (Config.CheckTransmits sends on the
// capped RTO schedule). The peer, controlled,
// followed our nomination at once: the pair had succeeded for it too. Had
// the nomination failed here, the probes of our selected pair would carry
// USE-CANDIDATE again, and the peer, its new pair silent for
// ProbeLossAfter, would take that for a failover and move back: a move
// there and back within seconds (the simulator found it, P3). But silence
// on every pair says nothing about the nominated one: the peer's answers
// are late, not lost. The nomination is tried again instead (bounded: a
// peer that stays silent fails the connection at the probe timeout), and
// a late answer to it (late.go) selects the pair, as a timely one would.
// A nomination that goes unanswered while the peer answers something else
// fails as before (checkFailed).
import "github.com/peerlink/peerlink/state/ice"

// nominationUnheard reports whether x, a check that gave up, is our
// nomination of a pair above a selected one, with no authenticated answer
// of any kind heard since it was first sent (one at that very instant came
// before it: the nomination typically follows the answer that made its
// pair succeed).
func (a *Agent) nominationUnheard(x *txn) bool {
	p := x.pair
	return x.useCandidate && a.role == ice.Controlling && a.nominating == p && a.selected != nil &&
		p != a.selected && !a.recovering && !a.lastAnswerAt.After(x.sentAt)
}

// nominateAgain keeps nominating p and sends the nomination again.
func (a *Agent) nominateAgain(p *pair) {
	p.useCandidate = true
	a.trigger(p)
	a.stats.NominationsRetried++
}
