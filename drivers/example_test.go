package drivers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/drivers/portable"
	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// peer is one side of the examples: a Driver over a UDP socket on
// loopback, its events and the payloads it received.
type peer struct {
	d      *drivers.Driver
	addr   netip.AddrPort
	events chan node.Event
	data   chan string
	// relayOnly: signal only relay candidates, so that the peer never
	// learns this side's own address.
	relayOnly bool
}

// startPeer runs a Driver whose socket's address is a host candidate.
func startPeer(ctx context.Context) (*peer, error) {
	p, err := listenPeer(ctx, drivers.Config{})
	if err != nil {
		return nil, err
	}
	return p, p.d.AddLocalAddress(ctx, p.addr)
}

// listenPeer runs a Driver configured by cfg on a fresh loopback socket,
// with no local address added yet.
func listenPeer(ctx context.Context, cfg drivers.Config) (*peer, error) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	// UDP has no flow control: a receiver of bulk data needs a buffer deep
	// enough for what arrives while its goroutine waits for a CPU.
	if err := uc.SetReadBuffer(4 << 20); err != nil {
		return nil, err
	}
	p := &peer{addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 64), data: make(chan string, 256)}
	// Callbacks run on the driver's goroutine: hand off, never block.
	cfg.OnEvent = func(e node.Event) { p.events <- e }
	cfg.OnData = func(_ node.ConnID, b []byte) { p.data <- string(b) } // string copies
	cfg.Logger = slog.New(slog.DiscardHandler)
	p.d, err = drivers.New(portable.New(uc), cfg)
	if err != nil {
		return nil, err
	}
	go p.d.Run(ctx)
	return p, nil
}

// signal is the program's signalling channel, here in memory: it passes
// each gathered candidate to the other side as the text a real channel
// would carry, and the connection's Connected and Failed to states, until
// ctx ends.
func signal(ctx context.Context, from, to *peer, id node.ConnID, states chan<- node.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-from.events:
			switch e := e.(type) {
			case node.CandidateGathered:
				if from.relayOnly && e.Candidate.Type != stunmsg.Relay {
					continue
				}
				c, err := node.ParseCandidate(e.Candidate.Marshal())
				if err == nil {
					err = to.d.AddRemoteCandidate(ctx, id, c)
				}
				if err != nil {
					fmt.Println("signalling:", err)
				}
			case node.Connected, node.Failed:
				select {
				case states <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// link is a connection between two peers, set up as ExampleDriver does.
type link struct {
	// states carries each side's Connected and Failed events after the
	// first Connected.
	states [2]chan node.Event
	// stop ends the signalling and waits until it has ended.
	stop func()
}

// connectPair connects a (controlling) and b under id and returns once
// both sides are connected.
func connectPair(ctx context.Context, a, b *peer, id node.ConnID) (*link, error) {
	aCreds, err := drivers.NewCredentials()
	if err != nil {
		return nil, err
	}
	bCreds, err := drivers.NewCredentials()
	if err != nil {
		return nil, err
	}
	if _, err := a.d.Connect(ctx, id, node.Controlling, aCreds, bCreds); err != nil {
		return nil, err
	}
	if _, err := b.d.Connect(ctx, id, node.Controlled, bCreds, aCreds); err != nil {
		return nil, err
	}
	sigCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l := &link{states: [2]chan node.Event{make(chan node.Event, 4), make(chan node.Event, 4)}}
	l.stop = func() { cancel(); wg.Wait() }
	for i, ends := range [2][2]*peer{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signal(sigCtx, ends[0], ends[1], id, l.states[i])
		}()
	}
	for i := range 2 {
		select {
		case e := <-l.states[i]:
			_, err = pathOf(e)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			l.stop()
			return nil, err
		}
	}
	return l, nil
}

// pathOf is the path of a Connected event, or the reason of a Failed one
// as an error.
func pathOf(e node.Event) (node.Path, error) {
	if f, ok := e.(node.Failed); ok {
		return node.Path{}, fmt.Errorf("failed: %v", f.Reason)
	}
	return e.(node.Connected).Path, nil
}

// Two peers on loopback: each makes its credentials, the two exchange
// them, both Connect, then their candidates; the connection comes up and
// carries a payload each way.
func ExampleDriver() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := startPeer(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	bob, err := startPeer(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The offer and the answer: each side's credentials go to the other.
	aliceCreds, _ := drivers.NewCredentials()
	bobCreds, _ := drivers.NewCredentials()
	const id node.ConnID = 1 // each side names the connection as it likes
	if _, err := alice.d.Connect(ctx, id, node.Controlling, aliceCreds, bobCreds); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := bob.d.Connect(ctx, id, node.Controlled, bobCreds, aliceCreds); err != nil {
		fmt.Println(err)
		return
	}
	// Candidates go over signalling once both sides have the connection.
	states := make(chan node.Event, 2)
	go signal(ctx, alice, bob, id, states)
	go signal(ctx, bob, alice, id, states)
	for range 2 {
		select {
		case e := <-states:
			if f, ok := e.(node.Failed); ok {
				fmt.Println("failed:", f.Reason)
				return
			}
		case <-ctx.Done():
			fmt.Println("not connected")
			return
		}
	}
	fmt.Println("connected")

	if err := alice.d.Send(ctx, id, []byte("hello, bob")); err != nil {
		fmt.Println(err)
	}
	if err := bob.d.Send(ctx, id, []byte("hello, alice")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-bob.data)
	fmt.Println(<-alice.data)
	// Output:
	// connected
	// hello, bob
	// hello, alice
}

// Credentials are drawn before Connect, so that a side can offer them to
// its peer first.
func ExampleNewCredentials() {
	creds, err := drivers.NewCredentials()
	fmt.Println(err, len(creds.Ufrag), len(creds.Pwd), creds.Valid())
	// Output: <nil> 8 24 true
}
