// Package sim_test holds the simulator's properties: generated worlds run
// with peerlink's real core, queue and pump (see sim/scenario), and four
// properties checked over them.
//
//	P1 no false positive: no Failed while the path works, and every
//	   Control datagram leaves within scenario.ControlDelayBound
//	P2 no false negative: a cut is reported within the timeout plus
//	   scenario.DetectSlack
//	P3 order: no datagram of a load arrives after a later one sent on the
//	   same path, and no side hops back to a path it just left
//	P4 determinism: the same world twice gives the same trace hash
//	P5 networks that change (roam_test.go): P1's world, and a peer's NAT
//	   rebinds, its uplink fails over, or it moves to another network;
//	   still no Failed and both sides connected
//
// Each is shown to bite: P1 with the FIFO and smallest-first queue
// policies, P2 with a probe timeout that never fires, P3 with
// smallest-first and with a switch to the backup that ignores the round
// trip, P4 with a second run whose one link is a nanosecond slower;
// rapid finds worlds where they fail. Shrunk failing cases live in
// testdata/rapid and replay first.
//
// Idle timing and loss. Worlds without load run up to twenty minutes on
// the core's default idle timing (a probe every 25 s, failure after 60 s),
// with loss of up to 5% per link. The first idle timing, without a
// follow-up after a lost probe, failed P1 there (and 146 times in 20 lossy
// idle hours, see sim/scenario's lossy idle test); the generator used to
// hide it with fast idle probes.
//
// Case counts: a world costs up to a few hundred milliseconds on a 2-core
// machine, so the properties run fewer than rapid's usual thousand cases
// (casesWorld, below); -short cuts them to a fifth, and -rapid.checks
// overrides both.
package sim_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/peerlink/peerlink/internal/proptest"
	"github.com/peerlink/peerlink/state/gso"
)

// Cases per property.
const (
	casesWorld       = 100 // P1, P2, P3: one world each
	casesDeterminism = 25  // P4: two runs of one world each
	casesBite        = 100 // the most a bite test may search before giving up
)

func init() { proptest.UseChecks(casesWorld) }

// userChecks is set when -rapid.checks was given on the command line.
var userChecks bool

func TestMain(m *testing.M) {
	flag.Parse()
	// flag.Visit would also see UseChecks' own flag.Set; only the command
	// line counts here.
	for _, a := range os.Args[1:] {
		userChecks = userChecks || strings.HasPrefix(strings.TrimLeft(a, "-"), "rapid.checks")
	}
	os.Exit(m.Run())
}

// withChecks runs prop with n cases (rapid itself runs a fifth with
// -short), unless the command line chose a count.
func withChecks(t *testing.T, n int, prop func(*rapid.T)) {
	t.Helper()
	if !userChecks {
		restore := setFlag(t, "rapid.checks", fmt.Sprint(n))
		defer restore()
	}
	rapid.Check(t, prop)
}

func setFlag(t *testing.T, name, value string) func() {
	t.Helper()
	old := flag.Lookup(name).Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	return func() { flag.Set(name, old) }
}

func TestP1AWorkingPathIsNeverDeclaredLostAndProbesLeaveWithinTheBound(t *testing.T) {
	withChecks(t, casesWorld, propNoFalsePositive(gso.ControlFirst))
}

func TestP2ACutPathIsReportedWithinTheTimeoutPlusSlack(t *testing.T) {
	withChecks(t, casesWorld, propNoFalseNegative)
}

func TestP3NoLoadIsReorderedOnAPathAndNoPathIsTakenAgain(t *testing.T) {
	orderStats = orderCounts{}
	withChecks(t, casesWorld, propOrder(gso.ControlFirst, genOptions{}))
	t.Logf("%d worlds: %d with a datagram late across a path switch; at most %d paths taken by one side",
		orderStats.worlds, orderStats.lateAcrossSwitch, orderStats.mostPaths)
}

func TestP4AWorldRunTwiceGivesTheSameTrace(t *testing.T) {
	withChecks(t, casesDeterminism, propDeterminism)
}

// expectBite requires rapid to falsify prop: the property catches the
// behaviour it guards against. The shrinking budget is cut, because the
// failure, not its minimal form, is the point; the stored case in
// testdata/rapid replays first and makes the search immediate.
func expectBite(t *testing.T, prop func(*rapid.T)) {
	t.Helper()
	if !userChecks {
		defer setFlag(t, "rapid.checks", fmt.Sprint(casesBite))()
	}
	defer setFlag(t, "rapid.shrinktime", "5s")()
	f := proptest.ExpectFailure(t, prop)
	if f == nil {
		t.Fatal("rapid found no world where the property fails")
	}
	t.Logf("rapid's counterexample:\n%s", f.Message)
}

func TestP1BitesWhenTheQueueIsFIFO(t *testing.T) {
	expectBite(t, propNoFalsePositive(gso.FIFO))
}

func TestP1BitesWhenTheQueueSendsTheSmallestSegmentsFirst(t *testing.T) {
	expectBite(t, propNoFalsePositive(gso.SmallestSegmentFirst))
}

func TestP2BitesWhenTheProbeTimeoutNeverFires(t *testing.T) {
	expectBite(t, propNoFalseNegativeWithoutTimeout)
}

func TestP4BitesWhenTheSecondRunDiffersByOneNanosecond(t *testing.T) {
	expectBite(t, propDeterminismWithADifference)
}

func TestP3BitesWhenTheQueueSendsTheSmallestSegmentsFirst(t *testing.T) {
	expectBite(t, propOrder(gso.SmallestSegmentFirst, genOptions{}))
}

func TestP3BitesWhenTheSwitchToABackupIgnoresTheRoundTrip(t *testing.T) {
	expectBite(t, propOrder(gso.ControlFirst, genOptions{switchIgnoresRTT: true}))
}
