package wgbind

import (
	"context"
	"errors"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// sendAll sends every payload in order, in one hand-over to the Driver per
// try, waiting out back-pressure for at most sendWait from the first
// push-back, as a sender on a full socket would wait.
func (b *Bind) sendAll(id node.ConnID, payloads [][]byte) error {
	// The deadline is made only when the queue pushes back: most calls
	// are taken whole at once, and a context with a timer per call costs
	// wireguard-go's sending goroutine more than the hand-over itself.
	ctx := context.Background()
	for len(payloads) > 0 {
		n, err := b.d.SendBatch(ctx, id, payloads)
		payloads = payloads[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, gso.ErrQueueFull) {
			return err
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, b.sendWait)
			defer cancel()
		}
		if werr := b.d.WaitWritable(ctx); werr != nil {
			return err
		}
	}
	return nil
}
