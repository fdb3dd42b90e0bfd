package turn

import (
	"encoding/binary"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// txKind is the method of a request the client sends.
type txKind uint8

const (
	txBinding txKind = iota
	txAllocate
	txRefresh
	txPermission
	txChannel
)

var txNames = [...]string{"binding", "allocate", "refresh", "permission", "channel"}

func (k txKind) String() string { return txNames[k] }

// retransmitReasons are PollTimeout's labels, built once so that polling
// allocates nothing.
var retransmitReasons = [...]string{"turn: binding-retransmit", "turn: allocate-retransmit",
	"turn: refresh-retransmit", "turn: permission-retransmit", "turn: channel-retransmit"}

func (k txKind) messageType() stun.MessageType {
	switch k {
	case txBinding:
		return typeBindingRequest
	case txAllocate:
		return typeAllocateRequest
	case txRefresh:
		return typeRefreshRequest
	case txPermission:
		return typePermissionRequest
	case txChannel:
		return typeChannelRequest
	}
	panic("turn: unknown transaction kind")
}

// transaction is one request in flight. Retransmissions reuse its ID and
// bytes (so a server that already acted answers from its cache); a retry
// after 401 or 438 is a new transaction with a fresh ID.
type transaction struct {
	id  stunmsg.TxID
	req request
	// payload is the encoded request, kept for retransmission.
	payload []byte
	// key signed the request; nil when it carried no credentials. The
	// response must verify with the same key.
	key stun.MessageIntegrity
	// started is the first send: answers heard from the server after it
	// prove the server alive even if this request is never answered.
	started time.Time
	// answersAtStart is Client.answers when it started.
	answersAtStart uint64
	nextAt         time.Time
	rto            time.Duration
	sends          int
	// staleRetries counts 438 answers in a row that led to this request.
	staleRetries int
}

// newTxID draws a transaction ID from the configured source.
func (c *Client) newTxID() stunmsg.TxID {
	var id stunmsg.TxID
	binary.BigEndian.PutUint64(id[0:8], c.id.Rand.Uint64())
	binary.BigEndian.PutUint32(id[8:12], c.id.Rand.Uint32())
	return id
}

// startTx sends a new request and tracks it until answered or timed out.
func (c *Client) startTx(req request, staleRetries int) *transaction {
	return c.startTxID(req, c.newTxID(), staleRetries)
}

// startTxID is startTx with a chosen transaction ID: a probe keeps the ID
// of the lost one before it (realloc.go).
func (c *Client) startTxID(req request, id stunmsg.TxID, staleRetries int) *transaction {
	tx := &transaction{id: id, req: req, started: c.now, answersAtStart: c.answers, rto: c.cfg.RequestRTO, staleRetries: staleRetries}
	signed := req.kind != txBinding && c.cred.valid()
	if signed {
		tx.key = c.cred.key
	}
	tx.payload = encodeRequest(req, tx.id, &c.cred)
	c.txs = append(c.txs, tx)
	c.send(tx)
	return tx
}

// send (re)transmits tx and schedules its next retransmission or failure.
func (c *Client) send(tx *transaction) {
	if tx.sends > 0 {
		c.stats.Retransmits++
	}
	tx.sends++
	c.queueTransmit(append([]byte(nil), tx.payload...))
	tx.nextAt = c.now.Add(tx.rto)
	rtoMax := c.cfg.RequestRTOMax
	if tx.req.verify {
		rtoMax = min(rtoMax, verifyRTOMax)
	}
	tx.rto = max(min(2*tx.rto, rtoMax), tx.rto)
}

// findTx returns the transaction with id, or nil. The table is bounded by
// MaxPermissions + MaxChannels + 2, so a scan is cheap.
func (c *Client) findTx(id stunmsg.TxID) *transaction {
	for _, tx := range c.txs {
		if tx.id == id {
			return tx
		}
	}
	return nil
}

// pending returns the transaction in flight for a kind (and peer, for
// permissions and channels), or nil.
func (c *Client) pending(kind txKind, peer peerKey) *transaction {
	for _, tx := range c.txs {
		if tx.req.kind == kind && (kind != txPermission && kind != txChannel || keyOf(kind, tx.req.peer) == peer) {
			return tx
		}
	}
	return nil
}

func (c *Client) removeTx(tx *transaction) {
	for i, t := range c.txs {
		if t == tx {
			c.txs = append(c.txs[:i], c.txs[i+1:]...)
			return
		}
	}
}

// retransmitDue resends or fails every transaction whose time has come.
// A failure handler may end the client, so the scan stops when it does.
func (c *Client) retransmitDue() {
	for i := 0; i < len(c.txs); {
		tx := c.txs[i]
		if tx.nextAt.After(c.now) {
			i++
			continue
		}
		limit := c.cfg.RequestTransmits
		if tx.req.verify {
			// A verification gives up sooner than a scheduled request.
			limit = verifyTransmits
		}
		if tx.sends < limit {
			c.send(tx)
			i++
			continue
		}
		c.txs = append(c.txs[:i], c.txs[i+1:]...)
		c.onTimeout(tx)
		if c.state.Terminal() {
			return
		}
		// The handler may have removed or added transactions; new ones are
		// due later than now, so rescanning from the start is safe.
		i = 0
	}
}
