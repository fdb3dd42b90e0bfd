package node

import (
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// SendBatch sends payloads to connection id in order, as Send does each,
// but hands each Data transmit to emit at once instead of leaving it for
// PollTransmit, and stops at the first one emit refuses (returns false):
// that payload and the rest are not sent, and none of them is counted. It
// returns how many payloads were sent and, when it stopped for any other
// reason, Send's error for the payload it stopped at.
//
// A batch to one connection shares its checks: the clock, the connection's
// state, its path's payload limit and the liveness notice are looked at
// once, not once per payload, which is most of what Send costs beside the
// queue's copy. The Transmit emit gets is valid only during the call, as
// PollTransmit's is until the next call into the Node. Control transmits
// the batch causes (a liveness probe, a relay's permission request) are
// left for PollTransmit. While the
// connection has no path the payloads are buffered as Send buffers them,
// and emit is not called.
func (n *Node) SendBatch(now time.Time, id ConnID, payloads [][]byte, emit func(Transmit) bool) (int, error) {
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
	src, dst := c.path.Src(), c.path.Dst()
	direct := !c.relayed(src)
	sent, bytes := 0, 0
	var err error
	for _, p := range payloads {
		if len(p) == 0 {
			err = ErrEmptyPayload
			break
		}
		if len(p) > limit {
			err = tooLarge(len(p), limit)
			break
		}
		if direct {
			if !emit(Transmit{Src: src, Dst: dst, Payload: p, Class: gso.Data}) {
				break
			}
		} else {
			// send wraps it for the relay and appends the transmit,
			// which is taken back off the queue and handed over. Before
			// it may come the relay's Control (the permission request
			// when the peer's IP has none yet): it stays for
			// PollTransmit, as a probe does.
			at := len(n.out)
			n.send(c, src, dst, p, gso.Data)
			if k := len(n.out) - 1; k >= at && n.out[k].Class == gso.Data {
				t := n.out[k]
				n.out[k] = Transmit{}
				n.out = n.out[:k]
				if !emit(t) {
					break
				}
			}
		}
		// Without a transmit the relay could not wrap it: counted there,
		// and sent as far as the caller is told, as Send does.
		sent++
		bytes += len(p)
	}
	if sent > 0 {
		c.stats.datagramsSent += uint64(sent)
		c.stats.bytesSent += uint64(bytes)
		if c.agent.NotifyAppTraffic(now) {
			n.settle(c)
		}
	}
	return sent, err
}
