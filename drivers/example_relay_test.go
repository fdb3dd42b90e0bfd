package drivers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/state/node"
)

// A relayed connection. Alice relays everything: she adds no local
// address, so her only candidate is the relayed address her TURN server
// allocates, and she signals only that (a program that must not reveal
// its own address does the same). Bob is reachable on loopback. The
// connection's path therefore runs through alice's relay, and so does
// the payload.
//
// The TURN server is the project's own (sim/turnserver) on two loopback
// sockets; a program names its coturn or pion/turn server the same way.
func ExampleDriver_AddRelay() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server, relayed, err := serveTURN(ctx, "alice", "secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	alice, err := listenPeer(ctx, drivers.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	alice.relayOnly = true
	// The allocation is made from alice's socket; its relay candidate is
	// gathered for every connection, present and future.
	if err := alice.d.AddRelay(ctx, server, alice.addr, "alice", "secret"); err != nil {
		fmt.Println(err)
		return
	}
	bob, err := startPeer(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	aliceCreds, _ := drivers.NewCredentials()
	bobCreds, _ := drivers.NewCredentials()
	const id node.ConnID = 1
	if _, err := alice.d.Connect(ctx, id, node.Controlling, aliceCreds, bobCreds); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := bob.d.Connect(ctx, id, node.Controlled, bobCreds, aliceCreds); err != nil {
		fmt.Println(err)
		return
	}
	aliceUp, bobUp := make(chan node.Event, 1), make(chan node.Event, 1)
	go signal(ctx, alice, bob, id, aliceUp)
	go signal(ctx, bob, alice, id, bobUp)
	var alicePath, bobPath node.Path
	for range 2 {
		select {
		case e := <-aliceUp:
			alicePath, err = pathOf(e)
		case e := <-bobUp:
			bobPath, err = pathOf(e)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("alice sends through her relay:", alicePath.ThroughOurRelay())
	fmt.Println("bob sends to alice's relayed address:", bobPath.Dst() == relayed)

	if err := bob.d.Send(ctx, id, []byte("hello through the relay")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-alice.data)
	// Output:
	// alice sends through her relay: true
	// bob sends to alice's relayed address: true
	// hello through the relay
}

// serveTURN runs a TURN server on loopback until ctx ends, for one user
// and one allocation. It returns the address clients talk to and the
// relayed address the allocation will have.
//
// The server is a sans-IO state machine; this is its loop. The relayed
// port is bound before the server starts and is the only one it may
// hand out, so the allocation's socket can never be taken by someone else.
func serveTURN(ctx context.Context, user, password string) (server, relayed netip.AddrPort, err error) {
	var socks []*net.UDPConn
	for range 2 {
		uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return server, relayed, err
		}
		socks = append(socks, uc)
	}
	server = socks[0].LocalAddr().(*net.UDPAddr).AddrPort()
	relayed = socks[1].LocalAddr().(*net.UDPAddr).AddrPort()
	srv, err := turnserver.New(turnserver.Config{
		Realm: "example", Users: []turnserver.Credential{{Username: user, Password: password}},
		RelayAddr: relayed.Addr(), RelayPortMin: relayed.Port(), RelayPortMax: relayed.Port(),
		Rand: rand.New(rand.NewPCG(1, 2)),
	})
	if err != nil {
		return server, relayed, err
	}

	type datagram struct {
		local, remote netip.AddrPort
		b             []byte
	}
	in := make(chan datagram, 64)
	for _, uc := range socks {
		local := uc.LocalAddr().(*net.UDPAddr).AddrPort()
		go func() {
			for {
				buf := make([]byte, 65536)
				n, remote, err := uc.ReadFromUDPAddrPort(buf)
				if err != nil {
					return // closed when ctx ends
				}
				select {
				case in <- datagram{local, remote, buf[:n]}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer func() {
			for _, uc := range socks {
				uc.Close()
			}
		}()
		timer := time.NewTimer(time.Hour)
		for {
			select {
			case <-ctx.Done():
				return
			case d := <-in:
				srv.HandleDatagram(time.Now(), d.remote, d.local, d.b)
			case <-timer.C:
				srv.HandleTimeout(time.Now())
			}
			for t, ok := srv.PollTransmit(); ok; t, ok = srv.PollTransmit() {
				for _, uc := range socks {
					if uc.LocalAddr().(*net.UDPAddr).AddrPort() == t.From {
						uc.WriteToUDPAddrPort(t.Payload, t.To)
					}
				}
			}
			if at, ok := srv.PollTimeout(); ok {
				timer.Reset(time.Until(at))
			}
		}
	}()
	return server, relayed, nil
}
