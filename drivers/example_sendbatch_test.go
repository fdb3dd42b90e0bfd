package drivers_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
)

// Bulk data with back-pressure. SendBatch takes a prefix of the payloads
// and refuses the rest with gso.ErrQueueFull while the send queue is
// full; WaitWritable returns once it has drained to half (no polling, no
// sleep), and the loop goes on with what was refused. Nothing is dropped
// on the way to the socket, and nothing is reordered on one path.
//
// Alice's queue holds only 64 KiB of Data here, so that this short
// transfer meets back-pressure; the default bound is the queue's drain
// time.
func ExampleDriver_SendBatch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := listenPeer(ctx, drivers.Config{
		Pump: pump.Config{Queue: gso.Config{DataByteLimit: 64 << 10}},
	})
	if err == nil {
		err = alice.d.AddLocalAddress(ctx, alice.addr)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	bob, err := startPeer(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	const id node.ConnID = 1
	l, err := connectPair(ctx, alice, bob, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.stop()

	// 2000 payloads of 1000 bytes, each numbered.
	const total = 2000
	packets := make([][]byte, total)
	for i := range packets {
		packets[i] = make([]byte, 1000)
		binary.BigEndian.PutUint32(packets[i], uint32(i))
	}
	// Bob counts what arrives, and whether it came in order.
	type tally struct {
		n       int
		inOrder bool
	}
	done := make(chan tally, 1)
	go func() {
		t := tally{inOrder: true}
		for t.n < total {
			select {
			case p := <-bob.data:
				t.inOrder = t.inOrder && binary.BigEndian.Uint32([]byte(p)) == uint32(t.n)
				t.n++
			case <-ctx.Done():
				done <- t
				return
			}
		}
		done <- t
	}()

	pushedBack := false
	for len(packets) > 0 {
		n, err := alice.d.SendBatch(ctx, id, packets) // copies each payload once
		packets = packets[n:]
		if errors.Is(err, gso.ErrQueueFull) {
			pushedBack = true
			err = alice.d.WaitWritable(ctx)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("all queued, after back-pressure:", pushedBack)
	t := <-done
	fmt.Println("bob received", t.n, "in order:", t.inOrder)
	// Output:
	// all queued, after back-pressure: true
	// bob received 2000 in order: true
}
