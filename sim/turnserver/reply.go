package turnserver

import (
	"fmt"

	"github.com/pion/stun/v2"
)

// reply answers req on its 5-tuple. A nil key sends no MESSAGE-INTEGRITY
// (401 and 438 answers, unauthenticated Binding). A FINGERPRINT is added
// when the request carried one.
func (s *Server) reply(t fiveTuple, req *stun.Message, key []byte, class stun.MessageClass, attrs ...stun.Setter) []byte {
	setters := make([]stun.Setter, 0, len(attrs)+5)
	setters = append(setters, stun.NewTransactionIDSetter(req.TransactionID), stun.NewType(req.Type.Method, class))
	setters = append(setters, attrs...)
	if s.cfg.Software != "" {
		setters = append(setters, stun.NewSoftware(s.cfg.Software))
	}
	if key != nil {
		setters = append(setters, stun.MessageIntegrity(key))
	}
	if req.Contains(stun.AttrFingerprint) {
		setters = append(setters, stun.Fingerprint)
	}
	m := new(stun.Message)
	if err := m.Build(setters...); err != nil {
		// Every attribute here is built by the server from valid values.
		panic(fmt.Sprintf("turnserver: building a %v %v: %v", req.Type.Method, class, err))
	}
	if class == stun.ClassErrorResponse {
		s.stats.ErrorResponses++
	} else {
		s.stats.SuccessResponses++
	}
	s.emit(t.server, t.client, m.Raw)
	return m.Raw
}

func (s *Server) replyError(t fiveTuple, req *stun.Message, key []byte, code stun.ErrorCode, reason string, attrs ...stun.Setter) {
	all := append([]stun.Setter{errorAttr(int(code), reason)}, attrs...)
	s.reply(t, req, key, stun.ClassErrorResponse, all...)
}
