package node

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// Emit takes a run of Data payloads for one path, queues them in order,
// and returns how many it took: fewer than len(payloads) means it refused
// the next one. t carries the run's addresses, class and ECN; its Payload
// is nil. The payloads are valid only during the call.
type Emit func(t Transmit, payloads [][]byte) int

// SendBatch sends payloads to connection id in order, as Send does each,
// but hands the Data transmits to emit at once instead of leaving them for
// PollTransmit, and stops at the first one emit refuses: that payload and
// the rest are not sent, and none of them is counted. It returns how many
// payloads were sent and, when it stopped for any other reason, Send's
// error for the payload it stopped at.
//
// A batch to one connection shares its checks: the clock, the connection's
// state, its path's payload limit and the liveness notice are looked at
// once, not once per payload. On a direct path the payloads reach emit as
// one run, so that the caller looks up its queue's flow once; through a
// relay each is wrapped on its own and emitted as a run of one. Control
// transmits the batch causes (a liveness probe, a relay's permission
// request) are left for PollTransmit. While the connection has no path the
// payloads are buffered as Send buffers them, and emit is not called.
func (n *Node) SendBatch(now time.Time, id ConnID, payloads [][]byte, emit Emit) (int, error) {
	now = n.clock(now)
	c, ok := n.conns[id]
	if !ok {
		return 0, ErrUnknownConn
	}
	if !c.connected || c.failed != 0 {
		for i, p := range payloads {
			if err := n.Send(now, id, p); err != nil {
				return i, err
			}
		}
		return len(payloads), nil
	}
	limit := n.maxPayload(c)
	// valid is the run Send would take; err is why it ends early.
	valid := len(payloads)
	var err error
	for i, p := range payloads {
		if len(p) == 0 {
			valid, err = i, ErrEmptyPayload
			break
		}
		if len(p) > limit {
			valid, err = i, tooLarge(len(p), limit)
			break
		}
	}
	src, dst := c.path.Src(), c.path.Dst()
	var sent int
	if !c.relayed(src) {
		if valid > 0 {
			sent = emit(Transmit{Src: src, Dst: dst, Class: gso.Data}, payloads[:valid])
		}
	} else {
		sent = n.sendBatchRelayed(c, src, dst, payloads[:valid], emit)
	}
	if sent < valid {
		err = nil // refused: the caller's queue is full, not the payload bad
	}
	if sent > 0 {
		bytes := 0
		for _, p := range payloads[:sent] {
			bytes += len(p)
		}
		c.stats.datagramsSent += uint64(sent)
		c.stats.bytesSent += uint64(bytes)
		if c.agent.NotifyAppTraffic(now) {
			n.settle(c)
		}
	}
	return sent, err
}

// sendBatchRelayed wraps each payload for c's relay and emits it as a run
// of one, until emit refuses one.
func (n *Node) sendBatchRelayed(c *conn, src, dst netip.AddrPort, payloads [][]byte, emit Emit) int {
	for i, p := range payloads {
		// send wraps it for the relay and appends the transmit, which is
		// taken back off the queue and handed over. Before it may come the
		// relay's Control (the permission request when the peer's IP has
		// none yet): it stays for PollTransmit, as a probe does.
		at := len(n.out)
		n.send(c, src, dst, p, gso.Data)
		if k := len(n.out) - 1; k >= at && n.out[k].Class == gso.Data {
			t := n.out[k]
			n.out[k] = Transmit{}
			n.out = n.out[:k]
			n.one[0], t.Payload = t.Payload, nil
			took := emit(t, n.one[:])
			n.one[0] = nil
			if took == 0 {
				return i
			}
		}
		// Without a transmit the relay could not wrap it: counted there,
		// and sent as far as the caller is told, as Send does.
	}
	return len(payloads)
}
