package turnserver

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

func TestAllocateGivesARelayedAddressTheDefaultLifetimeAndTheMappedAddress(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.login()
	m := c.do(stun.MethodAllocate, transportUDP)
	mustSucceed(t, m)
	relayed, _ := getXORAddr(m, stun.AttrXORRelayedAddress)
	if relayed.Addr() != relayIP || relayed.Port() < DefaultRelayPortMin {
		t.Fatalf("relayed %v outside %v:%d-%d", relayed, relayIP, DefaultRelayPortMin, DefaultRelayPortMax)
	}
	if mapped, _ := getXORAddr(m, stun.AttrXORMappedAddress); mapped != clientAddr {
		t.Fatalf("mapped %v, want %v", mapped, clientAddr)
	}
	if got := lifetimeOf(t, m); got != 600 {
		t.Fatalf("lifetime %d, want 600", got)
	}
	if got, ok := s.Relayed(clientAddr, serverAddr); !ok || got != relayed {
		t.Fatalf("Relayed = %v %v", got, ok)
	}
}

func TestARequestedLifetimeIsCappedAtTheMaximumAndNeverBelowTheDefault(t *testing.T) {
	for _, tc := range []struct{ asked, granted uint32 }{{30, 600}, {1800, 1800}, {7200, 3600}} {
		c := newClient(t, newServer(t, nil))
		c.login()
		if got := lifetimeOf(t, c.do(stun.MethodAllocate, transportUDP, lifetime(tc.asked))); got != tc.granted {
			t.Errorf("asked %d, granted %d, want %d", tc.asked, got, tc.granted)
		}
	}
}

func TestAllocateWithoutUDPTransportIsRefused(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.login()
	mustFail(t, c.do(stun.MethodAllocate), 400)
	mustFail(t, c.do(stun.MethodAllocate, rawAttr{stun.AttrRequestedTransport, []byte{6, 0, 0, 0}}), 442)
	mustFail(t, c.do(stun.MethodAllocate, transportUDP, rawAttr{stun.AttrRequestedAddressFamily, []byte{familyIPv6, 0, 0, 0}}), 440)
}

func TestASecondAllocateGets437ButARetransmissionGetsTheSameAnswer(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.login()
	tx := c.txID()
	first := c.send(c.build(stun.MethodAllocate, tx, transportUDP))
	again := c.send(c.build(stun.MethodAllocate, tx, transportUDP))
	if len(first) != 1 || len(again) != 1 || !bytes.Equal(first[0].Payload, again[0].Payload) {
		t.Fatal("a retransmitted Allocate did not get the identical response")
	}
	mustFail(t, c.do(stun.MethodAllocate, transportUDP), 437)
}

func TestRefreshWithoutAnAllocationGets437(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.login()
	mustFail(t, c.do(stun.MethodRefresh), 437)
	mustFail(t, c.do(stun.MethodCreatePermission, peer(peerAddr)), 437)
	mustFail(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4000), peer(peerAddr)), 437)
}

func TestRefreshWithLifetimeZeroDeletesTheAllocation(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.allocate()
	m := c.do(stun.MethodRefresh, lifetime(0))
	mustSucceed(t, m)
	if lifetimeOf(t, m) != 0 || s.Allocations() != 0 {
		t.Fatal("the allocation survived LIFETIME 0")
	}
	mustFail(t, c.do(stun.MethodRefresh), 437)
}

func TestAnotherUserCannotRefreshSomeoneElsesAllocation(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.allocate()
	c.user, c.key = "bob", stun.NewLongTermIntegrity("bob", realm, "hunter2")
	mustFail(t, c.do(stun.MethodRefresh), 441)
}

func TestAnAllocationExpiresAtItsLifetimeUnlessRefreshed(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.allocate()
	if at, ok := s.PollTimeout(); !ok || at != epoch.Add(10*time.Minute) {
		t.Fatalf("PollTimeout = %v %v, want the lifetime's end", at, ok)
	}
	c.now = epoch.Add(9 * time.Minute)
	mustSucceed(t, c.do(stun.MethodRefresh))
	s.HandleTimeout(epoch.Add(10 * time.Minute))
	if s.Allocations() != 1 {
		t.Fatal("a refreshed allocation expired at its old deadline")
	}
	s.HandleTimeout(epoch.Add(19 * time.Minute))
	if s.Allocations() != 0 || s.Stats().AllocationsExpired != 1 {
		t.Fatal("the allocation outlived its refreshed lifetime")
	}
	if _, ok := s.PollTimeout(); ok {
		t.Fatal("a deadline remains with nothing to expire")
	}
}

func TestAllocationsBeyondTheBoundGet508(t *testing.T) {
	s := newServer(t, func(c *Config) { c.MaxAllocations = 1 })
	newClient(t, s).allocate()
	c := newClient(t, s)
	c.addr = peer2Addr
	c.login()
	mustFail(t, c.do(stun.MethodAllocate, transportUDP), 508)
}

func TestTheSameSeedGivesTheSameRelayedPortsAndNonces(t *testing.T) {
	run := func() (string, uint16) {
		c := newClient(t, newServer(t, nil))
		relayed := c.allocate()
		return c.nonce, relayed.Port()
	}
	n1, p1 := run()
	n2, p2 := run()
	if n1 != n2 || p1 != p2 {
		t.Fatalf("runs differ: %s/%d vs %s/%d", n1, p1, n2, p2)
	}
}
