package turnserver

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

// A hand-driven TURN client for the tests: it builds every request from
// pion/stun primitives and the RFC's attribute layouts, feeds it to the
// server and decodes the single answer.

var (
	epoch      = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	serverAddr = netip.MustParseAddrPort("192.0.2.10:3478")
	relayIP    = netip.MustParseAddr("192.0.2.10")
	clientAddr = netip.MustParseAddrPort("198.51.100.7:40000")
	peerAddr   = netip.MustParseAddrPort("203.0.113.5:5000")
	peer2Addr  = netip.MustParseAddrPort("203.0.113.6:6000")
)

const (
	realm    = "peerlink.test"
	user     = "alice"
	password = "secret"
)

func newServer(t *testing.T, edit func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Realm:     realm,
		Users:     []Credential{{user, password}, {"bob", "hunter2"}},
		RelayAddr: relayIP,
		Rand:      rand.New(rand.NewPCG(1, 2)),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type client struct {
	t      *testing.T
	s      *Server
	addr   netip.AddrPort
	now    time.Time
	user   string
	key    []byte
	nonce  string
	txSeed byte
}

func newClient(t *testing.T, s *Server) *client {
	return &client{t: t, s: s, addr: clientAddr, now: epoch, user: user,
		key: stun.NewLongTermIntegrity(user, realm, password)}
}

func (c *client) txID() [stun.TransactionIDSize]byte {
	c.txSeed++
	var id [stun.TransactionIDSize]byte
	id[0] = c.txSeed
	return id
}

// build makes a request; with a nonce known it adds the long-term
// credentials and MESSAGE-INTEGRITY.
func (c *client) build(method stun.Method, tx [12]byte, attrs ...stun.Setter) []byte {
	setters := []stun.Setter{stun.NewTransactionIDSetter(tx), stun.NewType(method, stun.ClassRequest)}
	setters = append(setters, attrs...)
	if c.nonce != "" {
		setters = append(setters, stun.NewUsername(c.user), stun.NewRealm(realm), stun.NewNonce(c.nonce), stun.MessageIntegrity(c.key))
	}
	m, err := stun.Build(setters...)
	if err != nil {
		c.t.Fatal(err)
	}
	return m.Raw
}

// send feeds raw bytes from the client and returns everything the server
// transmitted.
func (c *client) send(b []byte) []Transmit {
	c.s.HandleDatagram(c.now, c.addr, serverAddr, b)
	return drain(c.s)
}

func drain(s *Server) []Transmit {
	var out []Transmit
	for tr, ok := s.PollTransmit(); ok; tr, ok = s.PollTransmit() {
		out = append(out, tr)
	}
	return out
}

// do sends a request and decodes its one response, checking it goes back
// on the same 5-tuple.
func (c *client) do(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	return c.decode(c.send(c.build(method, c.txID(), attrs...)))
}

func (c *client) decode(out []Transmit) *stun.Message {
	c.t.Helper()
	if len(out) != 1 {
		c.t.Fatalf("got %d transmits, want 1", len(out))
	}
	if out[0].From != serverAddr || out[0].To != c.addr {
		c.t.Fatalf("response %v -> %v, want %v -> %v", out[0].From, out[0].To, serverAddr, c.addr)
	}
	m := &stun.Message{Raw: out[0].Payload}
	if err := m.Decode(); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// login performs the 401 round trip and learns the nonce.
func (c *client) login() {
	c.t.Helper()
	c.nonce = ""
	m := c.do(stun.MethodAllocate, transportUDP)
	var n stun.Nonce
	if err := n.GetFrom(m); err != nil {
		c.t.Fatalf("401 without NONCE: %v", err)
	}
	c.nonce = n.String()
}

// allocate logs in and allocates, returning the relayed address.
func (c *client) allocate() netip.AddrPort {
	c.t.Helper()
	c.login()
	m := c.do(stun.MethodAllocate, transportUDP)
	mustSucceed(c.t, m)
	relayed, err := getXORAddr(m, stun.AttrXORRelayedAddress)
	if err != nil {
		c.t.Fatal(err)
	}
	return relayed
}

var transportUDP = rawAttr{stun.AttrRequestedTransport, []byte{protoUDP, 0, 0, 0}}

func lifetime(secs uint32) stun.Setter { return lifetimeAttr(secs) }

func peer(ap netip.AddrPort) stun.Setter { return xorAddr{stun.AttrXORPeerAddress, ap} }

func errorCode(t *testing.T, m *stun.Message) int {
	t.Helper()
	if m.Type.Class != stun.ClassErrorResponse {
		return 0
	}
	var e stun.ErrorCodeAttribute
	if err := e.GetFrom(m); err != nil {
		t.Fatal(err)
	}
	return int(e.Code)
}

func mustSucceed(t *testing.T, m *stun.Message) {
	t.Helper()
	if m.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("%v failed with %d", m.Type, errorCode(t, m))
	}
}

func mustFail(t *testing.T, m *stun.Message, code int) {
	t.Helper()
	if got := errorCode(t, m); got != code {
		t.Fatalf("%v: error %d, want %d", m.Type, got, code)
	}
}

func lifetimeOf(t *testing.T, m *stun.Message) uint32 {
	t.Helper()
	v, present, err := getUint32(m, stun.AttrLifetime)
	if !present || err != nil {
		t.Fatal("no LIFETIME")
	}
	return v
}

// fromPeer delivers a datagram from a peer to a relayed address.
func fromPeer(s *Server, now time.Time, from, relayed netip.AddrPort, b []byte) []Transmit {
	s.HandleDatagram(now, from, relayed, b)
	return drain(s)
}

func channelData(num uint16, payload []byte, pad bool) []byte {
	size := 4 + len(payload)
	if pad {
		size = (size + 3) &^ 3
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint16(b, num)
	binary.BigEndian.PutUint16(b[2:], uint16(len(payload)))
	copy(b[4:], payload)
	return b
}

func netipAP(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }
