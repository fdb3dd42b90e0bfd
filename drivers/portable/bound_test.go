package portable

import (
	"testing"

	"github.com/peerlink/peerlink/state/pump"
)

func TestTheSendBufferIsSizedOnlyWhereNothingCountsUnsentBytes(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     Config
		counter bool
		want    int
	}{
		{"no counter, default", Config{}, false, defaultConfig(false).SendBufferBytes},
		{"counter, default", Config{}, true, 0},
		{"no counter, explicit", Config{SendBufferBytes: 9000}, false, 9000},
		{"counter, explicit", Config{SendBufferBytes: 9000}, true, 9000},
		{"no counter, left alone", Config{SendBufferBytes: -1}, false, 0},
	} {
		if got := sendBufferRequest(c.cfg, c.counter); got != c.want {
			t.Errorf("%s: request %d, want %d", c.name, got, c.want)
		}
	}
	if defaultConfig(false).SendBufferBytes <= pump.DefaultConfig().KernelDataBudget {
		t.Errorf("default send buffer %d leaves no room beside the %d byte budget", defaultConfig(false).SendBufferBytes, pump.DefaultConfig().KernelDataBudget)
	}
}

func TestAConnCountsUnsentBytesExactlyWhereItSaysSo(t *testing.T) {
	c := New(listen(t, "udp4", "127.0.0.1:0"))
	u, ok := any(c).(pump.UnsentCounter)
	if ok != (UnsentCounter() != "") || c.Bound().Counter != UnsentCounter() {
		t.Fatalf("UnsentCounter %q, Bound %+v, implements pump.UnsentCounter: %v", UnsentCounter(), c.Bound(), ok)
	}
	if !ok {
		if c.Bound().SendBufferRequested != defaultConfig(false).SendBufferBytes {
			t.Fatalf("no counter and no send buffer bound: %+v", c.Bound())
		}
		return
	}
	if n, err := u.UnsentBytes(); n != 0 || err != nil {
		t.Fatalf("idle socket: UnsentBytes = %d, %v", n, err)
	}
	if b := c.Bound(); b.SendBufferRequested != 0 || b.SendBufferGranted <= 0 || b.Err != nil {
		t.Fatalf("with a counter the OS default send buffer stays and is read: %+v", b)
	}
}

func TestAnExplicitSendBufferIsSetAndWhatTheKernelGrantedIsReported(t *testing.T) {
	const want = 9000
	c, err := NewWithConfig(listen(t, "udp4", "127.0.0.1:0"), Config{SendBufferBytes: want})
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bound()
	if b.SendBufferRequested != want || b.SendBufferGranted < want || b.Err != nil {
		t.Fatalf("Bound %+v, want %d requested and at least that granted", b, want)
	}
}
