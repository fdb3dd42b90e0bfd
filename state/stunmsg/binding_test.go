package stunmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/stun/v2"
)

var tx = TxID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func TestBindingRequestRoundTripsAndIsSignedWithTheReceiversPassword(t *testing.T) {
	want := BindingRequest{TxID: tx, Username: "theirs:mine", Priority: 1845501695,
		Controlling: true, TieBreaker: 0xfeedfacecafebeef, UseCandidate: true}
	b := want.Marshal("receiver-password-0123")
	var m stun.Message
	if err := Decode(b, &m); err != nil {
		t.Fatal(err)
	}
	got, err := ParseBindingRequest(&m)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if err := CheckIntegrity(&m, "receiver-password-0123"); err != nil {
		t.Fatalf("right password rejected: %v", err)
	}
	if err := CheckIntegrity(&m, "wrong"); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("wrong password gave %v", err)
	}
}

func TestControlledRequestWithoutNominationOmitsUseCandidate(t *testing.T) {
	b := BindingRequest{TxID: tx, Username: "a:b", Priority: 7, TieBreaker: 9}.Marshal("pw")
	var m stun.Message
	if err := Decode(b, &m); err != nil {
		t.Fatal(err)
	}
	got, err := ParseBindingRequest(&m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Controlling || got.UseCandidate || got.TieBreaker != 9 {
		t.Fatalf("got %+v", got)
	}
}

func TestSuccessResponseCarriesTheMappedAddressOfEitherFamily(t *testing.T) {
	for _, a := range []netip.AddrPort{ap("203.0.113.5:40000"), ap("[2001:db8::5]:1")} {
		var m stun.Message
		if err := Decode(SuccessResponse(tx, a, "pw"), &m); err != nil {
			t.Fatal(err)
		}
		r, err := ParseResponse(&m)
		if err != nil || !r.Success || r.Mapped != a || r.TxID != tx {
			t.Fatalf("ParseResponse = %+v, %v; want mapped %v", r, err, a)
		}
		if CheckIntegrity(&m, "pw") != nil {
			t.Fatal("integrity")
		}
	}
}

func TestRoleConflictResponseCarries487(t *testing.T) {
	var m stun.Message
	if err := Decode(ErrorResponse(tx, CodeRoleConflict, "Role Conflict", "pw"), &m); err != nil {
		t.Fatal(err)
	}
	r, err := ParseResponse(&m)
	if err != nil || r.Success || r.Code != 487 {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestPlainBindingRequestHasOnlyAFingerprint(t *testing.T) {
	var m stun.Message
	if err := Decode(PlainBindingRequest(tx), &m); err != nil {
		t.Fatal(err)
	}
	if !IsBindingRequest(&m) || len(m.Attributes) != 1 || m.Attributes[0].Type != stun.AttrFingerprint {
		t.Fatalf("got %v", m.Attributes)
	}
}

func TestDecodeRejectsACorruptedFingerprintAndTrailingBytes(t *testing.T) {
	b := PlainBindingRequest(tx)
	b[len(b)-1] ^= 1
	var m stun.Message
	if err := Decode(b, &m); !errors.Is(err, ErrFingerprint) {
		t.Fatalf("corrupt fingerprint gave %v", err)
	}
	b = append(PlainBindingRequest(tx), 0, 0, 0, 0)
	if err := Decode(b, &m); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

func TestOnlySTUNWithTheCookieIsClaimedAndChannelDataOnlyFromAServer(t *testing.T) {
	stunMsg := PlainBindingRequest(tx)
	wg := make([]byte, 148)
	wg[0] = 1 // a WireGuard handshake initiation: first byte 1, no cookie
	cd, _ := AppendChannelData(nil, 0x4001, []byte("x"))
	short := append([]byte(nil), stunMsg[:HeaderSize-1]...) // cookie, but no whole header
	for _, c := range []struct {
		b      []byte
		stun   bool
		server ServerKind
	}{
		{stunMsg, true, ServerSTUN}, {wg, false, ServerOther}, {cd, false, ServerChannelData},
		{short, false, ServerOther}, {[]byte{}, false, ServerOther}, {[]byte{0}, false, ServerOther},
		{[]byte{128, 1}, false, ServerOther}, {[]byte{79}, false, ServerChannelData}, {[]byte{64}, false, ServerChannelData},
		{[]byte{80}, false, ServerOther}, {[]byte{63}, false, ServerOther},
	} {
		if got := IsSTUN(c.b); got != c.stun {
			t.Errorf("IsSTUN(% x...) = %v, want %v", c.b[:min(len(c.b), 8)], got, c.stun)
		}
		if got := ClassifyFromServer(c.b); got != c.server {
			t.Errorf("ClassifyFromServer(% x...) = %v, want %v", c.b[:min(len(c.b), 8)], got, c.server)
		}
	}
}

func TestChannelDataIsWrittenUnpaddedAndReadPaddedOrNot(t *testing.T) {
	b, err := AppendChannelData(nil, 0x4abc, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte{0x4a, 0xbc, 0, 5, 'h', 'e', 'l', 'l', 'o'}) {
		t.Fatalf("encoded % x", b)
	}
	for _, in := range [][]byte{b, append(b, 0, 0, 0)} {
		ch, p, err := DecodeChannelData(in)
		if err != nil || ch != 0x4abc || string(p) != "hello" {
			t.Fatalf("decode = %x %q %v", ch, p, err)
		}
	}
	if _, _, err := DecodeChannelData(b[:8]); err == nil {
		t.Fatal("truncated frame accepted")
	}
	if _, err := AppendChannelData(nil, 0x3fff, nil); err == nil {
		t.Fatal("channel 0x3fff accepted")
	}
}
