package turnserver

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

func TestPeerDataNeedsAPermissionAndThenArrivesAsADataIndication(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	relayed := c.allocate()
	if out := fromPeer(s, c.now, peerAddr, relayed, []byte("hello")); len(out) != 0 {
		t.Fatal("data from a peer without permission was relayed")
	}
	mustSucceed(t, c.do(stun.MethodCreatePermission, peer(peerAddr)))
	// The permission covers the peer's IP, whatever its port.
	other := peerAddr.Addr()
	for _, from := range []uint16{peerAddr.Port(), 9999} {
		out := fromPeer(s, c.now, netipAP(other, from), relayed, []byte("hello"))
		m := c.decode(out)
		if m.Type != stun.NewType(stun.MethodData, stun.ClassIndication) {
			t.Fatalf("got %v, want a Data indication", m.Type)
		}
		got, _ := getXORAddr(m, stun.AttrXORPeerAddress)
		data, _ := m.Get(stun.AttrData)
		if got.Port() != from || string(data) != "hello" {
			t.Fatalf("indication from %v with %q", got, data)
		}
	}
	if s.Stats().DropNoPermission != 1 {
		t.Fatalf("DropNoPermission = %d, want 1", s.Stats().DropNoPermission)
	}
}

func TestAPermissionLastsThreeHundredSeconds(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	relayed := c.allocate()
	mustSucceed(t, c.do(stun.MethodCreatePermission, peer(peerAddr)))
	if out := fromPeer(s, epoch.Add(299*time.Second), peerAddr, relayed, []byte("x")); len(out) != 1 {
		t.Fatal("permission gone before 300 s")
	}
	if out := fromPeer(s, epoch.Add(300*time.Second), peerAddr, relayed, []byte("x")); len(out) != 0 {
		t.Fatal("permission alive at 300 s")
	}
}

func TestASendIndicationGoesToThePeerFromTheRelayedAddress(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	relayed := c.allocate()
	ind := stun.MustBuild(stun.NewTransactionIDSetter([12]byte{9}), stun.NewType(stun.MethodSend, stun.ClassIndication),
		peer(peerAddr), rawAttr{stun.AttrData, []byte("payload")})
	if out := c.send(ind.Raw); len(out) != 0 {
		t.Fatal("relayed without permission")
	}
	mustSucceed(t, c.do(stun.MethodCreatePermission, peer(peerAddr)))
	out := c.send(ind.Raw)
	if len(out) != 1 || out[0].From != relayed || out[0].To != peerAddr || string(out[0].Payload) != "payload" {
		t.Fatalf("relayed %+v", out)
	}
}

func TestChannelBindRejectsNumbersOutsideTheRange(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.allocate()
	for _, n := range []uint16{0x3FFF, 0x5000} {
		mustFail(t, c.do(stun.MethodChannelBind, channelNumberAttr(n), peer(peerAddr)), 400)
	}
	mustFail(t, c.do(stun.MethodChannelBind, peer(peerAddr)), 400)
}

func TestABoundChannelCarriesDataBothWaysPaddedOrNot(t *testing.T) {
	for _, pad := range []bool{false, true} {
		s := newServer(t, func(c *Config) { c.PadChannelData = pad })
		c := newClient(t, s)
		relayed := c.allocate()
		mustSucceed(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4001), peer(peerAddr)))
		out := fromPeer(s, c.now, peerAddr, relayed, []byte("12345"))
		want := channelData(0x4001, []byte("12345"), pad)
		if len(out) != 1 || !bytes.Equal(out[0].Payload, want) {
			t.Fatalf("pad=%v: got %x, want %x", pad, out, want)
		}
		// The client may pad or not; the server accepts both.
		for _, clientPads := range []bool{false, true} {
			out = c.send(channelData(0x4001, []byte("abcde"), clientPads))
			if len(out) != 1 || out[0].From != relayed || out[0].To != peerAddr || string(out[0].Payload) != "abcde" {
				t.Fatalf("client pad=%v: relayed %+v", clientPads, out)
			}
		}
	}
}

func TestAChannelCannotBeRebound(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.allocate()
	mustSucceed(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4001), peer(peerAddr)))
	mustSucceed(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4001), peer(peerAddr))) // a refresh
	mustFail(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4001), peer(peer2Addr)), 400)
	mustFail(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4002), peer(peerAddr)), 400)
}

func TestAChannelExpiresAfterTenMinutes(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.allocate()
	c.do(stun.MethodRefresh, lifetime(3600))
	mustSucceed(t, c.do(stun.MethodChannelBind, channelNumberAttr(0x4001), peer(peerAddr)))
	c.now = epoch.Add(4 * time.Minute)
	mustSucceed(t, c.do(stun.MethodCreatePermission, peer(peerAddr))) // keep the permission
	c.now = epoch.Add(8 * time.Minute)
	mustSucceed(t, c.do(stun.MethodCreatePermission, peer(peerAddr)))
	c.now = epoch.Add(599 * time.Second)
	if out := c.send(channelData(0x4001, []byte("x"), false)); len(out) != 1 {
		t.Fatal("channel gone before 600 s")
	}
	c.now = epoch.Add(600 * time.Second)
	if out := c.send(channelData(0x4001, []byte("x"), false)); len(out) != 0 {
		t.Fatal("channel alive at 600 s")
	}
	if s.Stats().DropNoChannel != 1 {
		t.Fatalf("DropNoChannel = %d", s.Stats().DropNoChannel)
	}
}

func TestIndicationsAndChannelDataWithoutAnAllocationAreDropped(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	ind := stun.MustBuild(stun.NewTransactionIDSetter([12]byte{9}), stun.NewType(stun.MethodSend, stun.ClassIndication),
		peer(peerAddr), rawAttr{stun.AttrData, []byte("x")})
	c.send(ind.Raw)
	c.send(channelData(0x4001, []byte("x"), false))
	if s.Stats().DropNoAllocation != 2 {
		t.Fatalf("DropNoAllocation = %d, want 2", s.Stats().DropNoAllocation)
	}
}
