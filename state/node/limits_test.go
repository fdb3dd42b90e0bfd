package node

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestConnectBeyondMaxConnsIsRefusedWithASentinelAndCounted(t *testing.T) {
	n, err := New(Config{Rand: rand.New(rand.NewPCG(1, 1)), MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	for id := range ConnID(3) {
		if _, err := n.Connect(epoch, id, Controlling, Credentials{}, peerCreds); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Connect(epoch, 3, Controlling, Credentials{}, peerCreds); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("fourth Connect: %v, want ErrTooManyConns", err)
	}
	// Updating an existing connection is not a new one.
	if _, err := n.Connect(epoch, 2, Controlled, Credentials{}, peerCreds); err != nil {
		t.Fatalf("re-Connect of a held ID at the limit: %v", err)
	}
	if err := n.Close(epoch, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Connect(epoch, 3, Controlling, Credentials{}, peerCreds); err != nil {
		t.Fatalf("Connect after a Close freed a slot: %v", err)
	}
	if got := n.Stats().ConnsRefused; got != 1 {
		t.Fatalf("ConnsRefused = %d, want 1", got)
	}
	checkInvariants(t, n)
}

func TestRemoteCandidatesBeyondTheBoundAreRefusedWithASentinel(t *testing.T) {
	n, _, _, now := firstCheck(t)
	max := n.cfg.ICE.MaxRemoteCandidates
	var err error
	added := 1 // firstCheck added one
	for i := 0; err == nil; i++ {
		err = n.AddRemoteCandidate(now, connID, host(netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), uint16(1000+i))))
		if err == nil {
			added++
		}
	}
	if !errors.Is(err, ErrTooManyCandidates) || added != max {
		t.Fatalf("refused after %d with %v, want ErrTooManyCandidates after %d", added, err, max)
	}
}

// A peer that holds the password and keeps sending checks from fresh ports
// (a NAT rebinding forever, or a malicious peer) fills at most the bounded
// candidate and route tables; the rest is dropped and counted, and the
// checks it triggers stay bounded by the pairs.
func TestAPeerCheckingFromEndlessFreshPortsCannotGrowOurState(t *testing.T) {
	for _, conflict := range []bool{false, true} {
		t.Run(fmt.Sprintf("role conflict %v", conflict), func(t *testing.T) {
			n, local, check, now := firstCheck(t)
			c := n.conns[connID]
			rng := rand.New(rand.NewPCG(5, 5))
			for i := range 20000 {
				now = now.Add(time.Millisecond)
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), uint16(1024+rng.IntN(60000)))
				req := requestFor(local, conflict)
				n.HandleDatagram(now, check.Src, src, req)
				n.HandleTimeout(now)
				drainCount(n)
			}
			if got, max := len(c.agent.Remotes()), n.cfg.ICE.MaxRemoteCandidates; got > max {
				t.Fatalf("%d remote candidates, bound %d", got, max)
			}
			if got := len(c.routes); got > n.maxRoutes() {
				t.Fatalf("%d routes, bound %d", got, n.maxRoutes())
			}
			if !conflict && n.Stats().Drops(DropCandidateLimit) == 0 {
				t.Fatal("no peer-reflexive candidate was refused and counted")
			}
			checkInvariants(t, n)
		})
	}
}

func requestFor(local Credentials, conflict bool) []byte {
	return stunmsgRequest(local.Ufrag+":"+peerCreds.Ufrag, conflict, local.Pwd)
}
