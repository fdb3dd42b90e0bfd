package relay_test

import (
	"testing"
	"time"

	"github.com/pion/stun/v2"
)

func TestARestartForgetsEveryAllocationAndTheOldNonceAtTheSameAddress(t *testing.T) {
	sc := newScene(t, 1, false)
	auth := sc.allocate(t, sc.alice)
	if n := sc.relay.Server().Allocations(); n != 1 {
		t.Fatalf("%d allocations before the restart, want 1", n)
	}
	addr := sc.relay.Addr()
	if err := sc.relay.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := sc.relay.Server().Allocations(); n != 0 || sc.relay.Addr() != addr || sc.relay.Stats().Restarts != 1 {
		t.Fatalf("after the restart: %d allocations, address %v (was %v), stats %+v",
			n, sc.relay.Addr(), addr, sc.relay.Stats())
	}
	// A Refresh signed with the old nonce: the new server never issued it.
	refresh := stun.NewType(stun.MethodRefresh, stun.ClassRequest)
	sc.request(t, sc.alice, append([]stun.Setter{refresh}, auth...)...)
	sc.w.RunFor(time.Second)
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(sc.last(t, sc.alice)); err != nil || code.Code != stun.CodeStaleNonce {
		t.Fatalf("Refresh after the restart: %v %v, want 438", code, err)
	}
}
