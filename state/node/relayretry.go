package node

import (
	"time"

	"github.com/peerlink/peerlink/state/turn"
)

// This file holds the retry of a lost relay.
//
// A turn.Client that reports EventLost is finished: its server stopped
// answering, refused the credentials, or kept answering 437. Most of
// these pass: a server restarts, an operator fixes a password, a stale
// allocation is deleted. So the Node keeps the relay and, after
// Config.RelayRetry (doubled after each loss in a row, up to
// RelayRetryMax), starts a fresh client on the same server, socket and
// credentials. Each loss is still reported (RelayFailed, with RetryIn),
// and while the relay waits it carries nothing: its connections moved to
// another relay, or, with none, fail with RelayLost once their path is
// lost. When the fresh client is granted an allocation, connections
// without a relay take it again, as after AddRelay.

// relayLost handles EventLost from r's client.
func (n *Node) relayLost(r *relay, e turn.Event) {
	wait := n.retryWait(r)
	n.emit(RelayFailed{Server: r.server, Reason: e.Reason, Code: e.Code, RetryIn: wait})
	if wait == 0 {
		n.removeRelay(r)
		return
	}
	n.withdrawRelay(r)
	n.forgetPeers(r)
	r.losses++
	r.retryAt = n.now.Add(wait)
	n.releaseConns(r)
}

// retryWait is how long r waits before its next attempt; 0 when it is
// not retried (released by the application, or retries turned off).
func (n *Node) retryWait(r *relay) time.Duration {
	if r.closing || n.cfg.RelayRetry < 0 {
		return 0
	}
	wait := n.cfg.RelayRetry
	// Doubling stops at the cap, so it cannot overflow whatever the
	// configured durations.
	for i := 0; i < r.losses && wait < n.cfg.RelayRetryMax; i++ {
		wait = min(wait, n.cfg.RelayRetryMax/2) * 2
	}
	return min(wait, n.cfg.RelayRetryMax)
}

// retryRelay starts r again, if its time has come, with a fresh client on
// the same configuration. It reports whether r was waiting to retry: the
// lost client has no timers of its own.
func (n *Node) retryRelay(r *relay) bool {
	if r.retryAt.IsZero() {
		return false
	}
	if r.retryAt.After(n.now) {
		return true
	}
	client, err := turn.New(n.now, r.client.Identity(), r.client.Config())
	if err != nil {
		panic("node: a relay's own configuration refused: " + err.Error())
	}
	r.client, r.retryAt = client, time.Time{}
	n.stats.RelayRetries++
	return true
}

// adoptConns gives r, just granted an allocation, to the connections that
// have no relay, and lets them recover a lost path through it again.
func (n *Node) adoptConns(r *relay) {
	if r.closing {
		return
	}
	n.order.Ascend(func(id ConnID) bool {
		if c := n.conns[id]; c.relay == nil && c.failed == 0 {
			c.relay = r
			c.agent.SetRecovery(n.now, true, 0)
		}
		return true
	})
}
