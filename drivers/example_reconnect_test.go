package drivers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
)

// Reconnecting after Failed. Bob's program stops without a word (its
// Driver's context ends; nothing is sent), so alice's probes go
// unanswered and her connection fails with ProbeTimeout. Bob comes back
// on a new socket, and the two connect again as the first time: fresh
// credentials both ways, Connect on each side (alice under the same ID,
// which replaces the failed connection), then the candidates.
//
// Alice's probe timers are shortened so that the failure comes within a
// second; the defaults give a path 15 s of silence.
func ExampleDriver_reconnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := listenPeer(ctx, drivers.Config{Node: node.Config{ICE: ice.Config{
		ProbeInterval: 100 * time.Millisecond, ProbeLossAfter: 100 * time.Millisecond,
		ProbeTimeout: 600 * time.Millisecond, SwitchAfter: 300 * time.Millisecond,
		IdleProbeInterval: 100 * time.Millisecond, IdleProbeTimeout: 600 * time.Millisecond,
	}}})
	if err == nil {
		err = alice.d.AddLocalAddress(ctx, alice.addr)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	const id node.ConnID = 1
	bobCtx, stopBob := context.WithCancel(ctx)
	defer stopBob()
	bob, err := startPeer(bobCtx)
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := connectPair(ctx, alice, bob, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connected")

	stopBob() // bob's program ends
	select {
	case e := <-l.states[0]:
		fmt.Println(e.(node.Failed).Reason)
	case <-ctx.Done():
		fmt.Println("no failure")
		return
	}
	l.stop()

	bob, err = startPeer(ctx) // bob again, on a new socket
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err = connectPair(ctx, alice, bob, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.stop()
	fmt.Println("connected again")
	if err := alice.d.Send(ctx, id, []byte("hello again")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-bob.data)
	// Output:
	// connected
	// ProbeTimeout
	// connected again
	// hello again
}
