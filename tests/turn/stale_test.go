package turn_test

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/turn"
	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// A program with a fixed listen port (a VPN) is killed and started again:
// the server still holds the allocation its earlier life made on the same
// 5-tuple and answers the new Allocate with 437. The client deletes the
// stale allocation and allocates again; coturn deletes on a once-a-second
// timer, so the client must wait for it rather than give up.
func TestCoturnAClientRestartedOnTheSamePortAllocatesAgain(t *testing.T) {
	t.Parallel()
	restartedOnTheSamePort(t, realturn.Coturn(t, realturn.CoturnConfig{}))
}

func TestPionAClientRestartedOnTheSamePortAllocatesAgain(t *testing.T) {
	t.Parallel()
	restartedOnTheSamePort(t, realturn.Pion(t, realturn.PionConfig{}))
}

func restartedOnTheSamePort(t *testing.T, srv *realturn.Server) {
	cfg := testConfig(srv.Addr, realturn.User, realturn.Password)
	first := startRunner(t, cfg)
	old := first.waitEvent(turn.EventAllocated, 5*time.Second)
	first.drop()

	start := time.Now()
	second := startRunnerAt(t, cfg, first.addr)
	e := second.waitEvent(turn.EventAllocated, 10*time.Second)
	took := time.Since(start)
	s := second.stats()
	t.Logf("%s: allocated %v again from %v %v after the restart (the stale one was %v); %d times 437",
		srv.Name, e.Relayed, first.addr, took.Round(time.Millisecond), old.Relayed, s.Reallocations)
	if s.Reallocations == 0 {
		t.Errorf("%s: the new client never met the stale allocation (no 437): the test tests nothing", srv.Name)
	}
	if took > 5*time.Second {
		t.Errorf("%s: allocated again only after %v, want within a few seconds", srv.Name, took)
	}
}
