package stunmsg

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v2"
)

// FuzzDecode feeds arbitrary datagrams through every parser a received STUN
// message meets; none may panic.
func FuzzDecode(f *testing.F) {
	f.Add(PlainBindingRequest(tx))
	f.Add(BindingRequest{TxID: tx, Username: "a:b", Priority: 1, Controlling: true, UseCandidate: true}.Marshal("pw"))
	f.Add(SuccessResponse(tx, netip.MustParseAddrPort("[2001:db8::1]:9"), "pw"))
	f.Add(ErrorResponse(tx, CodeRoleConflict, "Role Conflict", "pw"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m stun.Message
		IsSTUN(b)
		ClassifyFromServer(b)
		if Decode(b, &m) != nil {
			return
		}
		_, _ = ParseBindingRequest(&m)
		_, _ = ParseResponse(&m)
		_ = CheckIntegrity(&m, "pw")
		_, _ = MappedAddress(&m)
	})
}

func FuzzParseCandidate(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 192.0.2.1 4000 typ host")
	f.Add("candidate:2 1 udp 1694498815 203.0.113.9 61000 typ srflx raddr 192.0.2.1 rport 4000 generation 0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCandidate(s)
		if err != nil {
			return
		}
		again, err := ParseCandidate(c.Marshal())
		if err != nil || again != c {
			t.Fatalf("%q parsed to %+v, which re-parses to %+v, %v", s, c, again, err)
		}
	})
}

func FuzzDecodeChannelData(f *testing.F) {
	f.Add([]byte{0x40, 0x00, 0x00, 0x01, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, p, err := DecodeChannelData(b)
		if err != nil {
			return
		}
		if ch < MinChannel || ch > MaxChannel || len(p) > len(b) {
			t.Fatalf("bad decode %x %d", ch, len(p))
		}
	})
}
