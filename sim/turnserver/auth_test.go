package turnserver

import (
	"testing"

	"github.com/pion/stun/v2"
)

func TestARequestWithoutCredentialsGets401WithRealmAndNonceAndNoIntegrity(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	m := c.do(stun.MethodAllocate, transportUDP)
	mustFail(t, m, 401)
	var r stun.Realm
	var n stun.Nonce
	if r.GetFrom(m) != nil || r.String() != realm || n.GetFrom(m) != nil || n.String() == "" {
		t.Fatalf("401 lacks REALM %q or NONCE %q", r, n)
	}
	if m.Contains(stun.AttrMessageIntegrity) {
		t.Fatal("401 carries MESSAGE-INTEGRITY")
	}
}

func TestAnAuthenticatedResponseCarriesIntegrityUnderTheUsersKey(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	c.login()
	m := c.do(stun.MethodAllocate, transportUDP)
	mustSucceed(t, m)
	if err := stun.MessageIntegrity(c.key).Check(m); err != nil {
		t.Fatalf("response integrity: %v", err)
	}
}

func TestWrongPasswordOrUnknownUserGets401(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.login()
	c.key = stun.NewLongTermIntegrity(user, realm, "wrong")
	mustFail(t, c.do(stun.MethodAllocate, transportUDP), 401)
	c.login()
	c.user, c.key = "mallory", stun.NewLongTermIntegrity("mallory", realm, password)
	mustFail(t, c.do(stun.MethodAllocate, transportUDP), 401)
	if s.Allocations() != 0 {
		t.Fatal("an unauthenticated request made an allocation")
	}
}

func TestIntegrityWithoutANonceIsABadRequest(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	b := c.build(stun.MethodAllocate, c.txID(), transportUDP, stun.NewUsername(user), stun.NewRealm(realm), stun.MessageIntegrity(c.key))
	mustFail(t, c.decode(c.send(b)), 400)
}

func TestAnExpiredNonceGets438WithAFreshOneThatWorks(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	c.login()
	c.now = epoch.Add(DefaultNonceLifetime)
	m := c.do(stun.MethodAllocate, transportUDP)
	mustFail(t, m, 438)
	var n stun.Nonce
	var r stun.Realm
	if n.GetFrom(m) != nil || r.GetFrom(m) != nil || n.String() == c.nonce {
		t.Fatal("438 without a fresh NONCE and REALM")
	}
	c.nonce = n.String()
	mustSucceed(t, c.do(stun.MethodAllocate, transportUDP))
}

func TestAnUnknownComprehensionRequiredAttributeGets420(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	m := c.do(stun.MethodAllocate, transportUDP, rawAttr{0x7f01, []byte{1, 2, 3, 4}})
	mustFail(t, m, 420)
	var u stun.UnknownAttributes
	if u.GetFrom(m) != nil || len(u) != 1 || u[0] != 0x7f01 {
		t.Fatalf("UNKNOWN-ATTRIBUTES = %v", u)
	}
}

func TestABindingRequestIsAnsweredWithoutCredentials(t *testing.T) {
	c := newClient(t, newServer(t, nil))
	m := c.do(stun.MethodBinding)
	mustSucceed(t, m)
	if got, err := getXORAddr(m, stun.AttrXORMappedAddress); err != nil || got != clientAddr {
		t.Fatalf("XOR-MAPPED-ADDRESS %v %v, want %v", got, err, clientAddr)
	}
}

func TestGarbageAndStrayResponsesAreDroppedAndCounted(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(t, s)
	stray := stun.MustBuild(stun.NewTransactionIDSetter([12]byte{1}), stun.BindingSuccess)
	for _, b := range [][]byte{{0xff, 1, 2}, {0, 1, 0, 0}, stray.Raw, channelData(0x3000, []byte{1}, false)} {
		if out := c.send(b); len(out) != 0 {
			t.Fatalf("answered garbage %x", b)
		}
	}
	if s.Stats().DropMalformed != 4 {
		t.Fatalf("DropMalformed = %d, want 4", s.Stats().DropMalformed)
	}
}
