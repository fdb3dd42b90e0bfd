package wgbind

import (
	"context"
	"errors"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// sendAll sends every payload in order, in one hand-over to the Driver per
// try, waiting out back-pressure for at most sendWait in all, as a sender
// on a full socket would wait.
func (b *Bind) sendAll(id node.ConnID, payloads [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.sendWait)
	defer cancel()
	for len(payloads) > 0 {
		n, err := b.d.SendBatch(ctx, id, payloads)
		payloads = payloads[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, gso.ErrQueueFull) {
			return err
		}
		if werr := b.d.WaitWritable(ctx); werr != nil {
			return err
		}
	}
	return nil
}
