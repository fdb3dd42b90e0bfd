package turnserver

import (
	"fmt"
	"time"

	"github.com/pion/stun/v2"
)

// nonceTable remembers the nonces handed out, oldest first, within a bound.
type nonceTable struct {
	expires map[string]time.Time // lookups only
	order   []string             // issue order, for eviction
	limit   int
}

func newNonceTable(limit int) nonceTable {
	return nonceTable{expires: make(map[string]time.Time), limit: limit}
}

func (n *nonceTable) add(nonce string, expires time.Time) {
	if len(n.order) >= n.limit {
		delete(n.expires, n.order[0])
		n.order = n.order[1:]
	}
	n.expires[nonce] = expires
	n.order = append(n.order, nonce)
}

func (n *nonceTable) valid(nonce string, now time.Time) bool {
	exp, ok := n.expires[nonce]
	return ok && now.Before(exp)
}

// newNonce issues a fresh nonce valid for the configured lifetime.
func (s *Server) newNonce() stun.Nonce {
	v := fmt.Sprintf("%016x", s.cfg.Rand.Uint64())
	s.nonces.add(v, s.now.Add(s.cfg.NonceLifetime))
	return stun.NewNonce(v)
}

// authenticate applies RFC 8489 section 9.2.4 to a request. On success it
// returns the user's key and name; otherwise it has already answered (401,
// 400 or 438) and ok is false.
func (s *Server) authenticate(t fiveTuple, m *stun.Message) (key []byte, user string, ok bool) {
	if !m.Contains(stun.AttrMessageIntegrity) {
		s.stats.Unauthorized++
		s.replyError(t, m, nil, stun.CodeUnauthorized, "Unauthorized", stun.NewRealm(s.cfg.Realm), s.newNonce())
		return nil, "", false
	}
	var (
		username stun.Username
		realm    stun.Realm
		nonce    stun.Nonce
	)
	if username.GetFrom(m) != nil || realm.GetFrom(m) != nil || nonce.GetFrom(m) != nil {
		s.stats.BadRequest++
		s.replyError(t, m, nil, stun.CodeBadRequest, "Missing USERNAME, REALM or NONCE")
		return nil, "", false
	}
	if !s.nonces.valid(nonce.String(), s.now) {
		s.stats.StaleNonce++
		s.replyError(t, m, nil, stun.CodeStaleNonce, "Stale Nonce", stun.NewRealm(s.cfg.Realm), s.newNonce())
		return nil, "", false
	}
	key = s.users[username.String()]
	if key == nil || realm.String() != s.cfg.Realm || stun.MessageIntegrity(key).Check(m) != nil {
		s.stats.Unauthorized++
		s.replyError(t, m, nil, stun.CodeUnauthorized, "Unauthorized", stun.NewRealm(s.cfg.Realm), s.newNonce())
		return nil, "", false
	}
	return key, username.String(), true
}
