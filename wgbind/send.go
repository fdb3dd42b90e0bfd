package wgbind

import (
	"context"
	"errors"
	"time"

	"github.com/peerlink/peerlink/drivers/pump"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// sendAll sends every payload, waiting out back-pressure for at most
// sendWait in all.
func (b *Bind) sendAll(id node.ConnID, payloads [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.sendWait)
	defer cancel()
	pause := 50 * time.Microsecond
	for len(payloads) > 0 {
		n, err := b.sendBatch(ctx, id, payloads)
		payloads = payloads[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, gso.ErrQueueFull) {
			return err
		}
		if werr := b.waitWritable(ctx, pause); werr != nil {
			return err
		}
		pause = min(2*pause, 4*time.Millisecond)
	}
	return nil
}

// sendBatch hands payloads to the Driver in one hand-over and returns how
// many it took (a prefix). It is the one place to switch to
// drivers.Driver.SendBatch once the Driver has it.
func (b *Bind) sendBatch(ctx context.Context, id node.ConnID, payloads [][]byte) (int, error) {
	n := 0
	err := b.d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		for _, pl := range payloads {
			if err := p.Send(now, id, pl); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// waitWritable waits until the Driver may take Data again. The Driver
// does not say when yet, so the caller polls with a doubling pause, short
// at first so that a queue drained at line rate is found soon.
func (b *Bind) waitWritable(ctx context.Context, pause time.Duration) error {
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
