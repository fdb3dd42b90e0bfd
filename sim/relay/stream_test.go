package relay_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

// A write that loses the stream's framing closes the connection, as a
// server does, and the client dials again as the driver does: 100 ms, a
// handshake, onReset. The stream carries requests again after that; what
// was written in the meantime goes on the new connection.
func TestACorruptWriteClosesTheStreamAndANewOneOpensAfterTheRedialWait(t *testing.T) {
	sc := newScene(t, 1, false)
	const latency = 20 * time.Millisecond
	var answers int
	var resets []time.Time
	st := sc.relay.NewStream(netip.MustParseAddrPort("203.0.113.5:40000"), latency, 0,
		func(now time.Time, msg []byte) {
			m := &stun.Message{Raw: msg}
			if m.Decode() == nil && m.Type == stun.BindingSuccess {
				answers++
			}
		},
		func(now time.Time) { resets = append(resets, now) }, nil)
	binding := func() {
		t.Helper()
		var id [stun.TransactionIDSize]byte
		binary.BigEndian.PutUint64(id[:], sc.w.Rand().Uint64())
		m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.BindingRequest)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Write(sc.w.Now(), m.Raw) {
			t.Fatal("the stream refused a write")
		}
	}
	binding()
	sc.w.RunFor(time.Second)
	if answers != 1 {
		t.Fatalf("%d Binding answers before the corrupt write, want 1", answers)
	}
	// First byte 0xff starts neither STUN nor ChannelData.
	wrote := sc.w.Now()
	garbage := make([]byte, 20)
	garbage[0] = 0xff
	if !st.Write(wrote, garbage) {
		t.Fatal("the stream refused a write")
	}
	binding() // written behind the bad bytes: lost with the connection
	sc.w.RunFor(latency + 10*time.Millisecond)
	binding() // written while the client dials again: waits for the new connection
	sc.w.RunFor(time.Second)
	// The corrupt bytes arrive a latency after they were written; then the
	// 100 ms wait and one and a half round trips.
	want := wrote.Add(latency + 100*time.Millisecond + 3*latency)
	if len(resets) != 1 || !resets[0].Equal(want) {
		t.Fatalf("resets at %v, want one at %v", resets, want)
	}
	if answers != 2 {
		t.Fatalf("%d Binding answers after the corrupt write, want 2: the one written while dialling", answers)
	}
	binding()
	sc.w.RunFor(time.Second)
	if answers != 3 {
		t.Fatalf("%d Binding answers on the new connection, want 3", answers)
	}
	if s := st.Stats(); s.Corrupt != 1 || s.Resets != 1 || s.LostInRestart != 1 {
		t.Fatalf("stats %+v", s)
	}
}
