package drivers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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
	p, err := listenPeer(ctx)
	if err != nil {
		return nil, err
	}
	return p, p.d.AddLocalAddress(ctx, p.addr)
}

// listenPeer runs a Driver on a fresh loopback socket, with no local
// address added yet.
func listenPeer(ctx context.Context) (*peer, error) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &peer{addr: uc.LocalAddr().(*net.UDPAddr).AddrPort(),
		events: make(chan node.Event, 64), data: make(chan string, 64)}
	p.d, err = drivers.New(portable.New(uc), drivers.Config{
		// Callbacks run on the driver's goroutine: hand off, never block.
		OnEvent: func(e node.Event) { p.events <- e },
		OnData:  func(_ node.ConnID, b []byte) { p.data <- string(b) }, // string copies
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	go p.d.Run(ctx)
	return p, nil
}

// signal is the program's signalling channel, here in memory: it passes
// each gathered candidate to the other side as the text a real channel
// would carry, until the connection is up.
func signal(ctx context.Context, from, to *peer, id node.ConnID, connected chan<- node.Path) {
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
			case node.Connected:
				connected <- e.Path
			case node.Failed:
				fmt.Println("failed:", e.Reason)
			}
		}
	}
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
	connected := make(chan node.Path, 2)
	go signal(ctx, alice, bob, id, connected)
	go signal(ctx, bob, alice, id, connected)
	for range 2 {
		select {
		case <-connected:
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
