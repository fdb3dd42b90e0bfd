package scenario

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// shortDefault is the default scenario cut after one minute of load.
func shortDefault(t *testing.T, seed uint64, p gso.Policy) *Result {
	t.Helper()
	sc, ok := Lookup(DefaultName)
	if !ok {
		t.Fatal("the default scenario is not registered")
	}
	spec := sc.Build(Options{Seed: seed, Duration: time.Minute})
	spec.Policy = p
	if p != gso.ControlFirst {
		// The comparison policies run with the byte bound alone: with the
		// delay bound, FIFO's probes wait behind at most that bound, and
		// the run would show the bound at work, not the control lane.
		spec.DataQueueDelay = -1
	}
	res, err := Run(spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTheControlLaneKeepsProbesWithinTheBoundAndDetectsTheCut(t *testing.T) {
	res := shortDefault(t, 3, gso.ControlFirst)
	if res.FalseFailures != 0 || res.Peers[0].OverBound != 0 || res.Late() != 0 {
		t.Fatalf("false failures %d, over bound %d, late %d", res.FalseFailures, res.Peers[0].OverBound, res.Late())
	}
	if res.Peers[0].ControlDelayMax == 0 {
		t.Fatal("no Control delay measured behind a saturated 1 Mbit/s uplink")
	}
	d, ok := res.DetectDelay()
	if slack := DetectSlack(&res.Spec); !ok || d > 15*time.Second+slack {
		t.Fatalf("detected %v (%v), want within 15 s + %v", d, ok, slack)
	}
	if got := res.Throughput(1); got < 900_000 || got > 1_000_000 {
		t.Fatalf("goodput %.0f bit/s on a 1 Mbit/s bottleneck", got)
	}
}

func TestFIFOMakesProbesWaitBehindDataAndFailsAWorkingPath(t *testing.T) {
	res := shortDefault(t, 3, gso.FIFO)
	if res.FalseFailures == 0 || res.Peers[0].OverBound == 0 {
		t.Fatalf("false failures %d, over bound %d: FIFO should starve the probes", res.FalseFailures, res.Peers[0].OverBound)
	}
}

// The default scenario's second flow is 40-byte datagrams, smaller than
// any probe: ordering by size puts them ahead of the probes and splits
// their flow between batches of different sizes.
func TestSmallestFirstHoldsProbesBehindSmallDataOrReordersIt(t *testing.T) {
	res := shortDefault(t, 3, gso.SmallestSegmentFirst)
	if res.FalseFailures == 0 || res.Late() == 0 {
		t.Fatalf("false failures %d, late %d, probe delay max %v: smallest-first should fail on data smaller than a probe",
			res.FalseFailures, res.Late(), res.ControlDelayMax())
	}
	if res.Peers[0].OverBound == 0 {
		t.Fatalf("no probe over the bound (max %v): the small flow should hold probes back", res.ControlDelayMax())
	}
}

func TestARunIsAFunctionOfItsSpec(t *testing.T) {
	a, b := shortDefault(t, 9, gso.ControlFirst), shortDefault(t, 9, gso.ControlFirst)
	if a.TraceHash != b.TraceHash || a.Events != b.Events {
		t.Fatalf("same spec, traces %016x and %016x", a.TraceHash, b.TraceHash)
	}
	if c := shortDefault(t, 10, gso.ControlFirst); c.TraceHash == a.TraceHash {
		t.Fatal("seeds 9 and 10 gave the same trace")
	}
}

func TestTheSummaryEndsWithTheIssuesLineAndThePlotIsSVG(t *testing.T) {
	res := shortDefault(t, 1, gso.ControlFirst)
	var b bytes.Buffer
	WriteSummary(&b, res, time.Second)
	if !strings.Contains(b.String(), "timeline:") {
		t.Fatalf("summary:\n%s", b.String())
	}
	line := SummaryLine(res, time.Second)
	if !strings.HasPrefix(line, "sim policy=control-lane false_failures=0 late=0 probe_delay_max_ms=") || !strings.Contains(line, " speedup=") {
		t.Fatalf("summary line %q", line)
	}
	svg := string(Plot([]*Result{res}))
	if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>\n") || strings.Count(svg, "<polyline") != 3 {
		t.Fatalf("plot is not the expected SVG (%d bytes)", len(svg))
	}
}

func TestScenarioNamesAreUniqueAndTheDefaultExists(t *testing.T) {
	names := Names()
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Fatalf("duplicate %q", names[i])
		}
	}
	if _, ok := Lookup(DefaultName); !ok {
		t.Fatal("no default")
	}
}

func TestAnInvalidSpecIsRefused(t *testing.T) {
	if _, err := Run(Spec{End: time.Second, Loads: []LoadSpec{{Kind: Saturating, Size: 3}}}); err == nil {
		t.Fatal("a 3-byte load ran")
	}
}
