package scenario

import (
	"testing"

	"github.com/peerlink/peerlink/state/gso"
)

func benchScenario(b *testing.B, name string, p gso.Policy) {
	sc, ok := Lookup(name)
	if !ok {
		b.Fatalf("no scenario %q", name)
	}
	spec := sc.Build(Options{Seed: 1})
	spec.Policy = p
	for i := 0; i < b.N; i++ {
		res, err := Run(spec)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Events), "events/op")
		b.ReportMetric(res.Simulated.Seconds(), "sim-s/op")
	}
}

// BenchmarkIdleHour is one simulated hour of two peers behind NATs and a
// relay with real Nodes, connected and idle: the target is under a
// second of wall time.
func BenchmarkIdleHour(b *testing.B) { benchScenario(b, "idle-hour", gso.ControlFirst) }

// BenchmarkDefaultScenario is the default saturated scenario (ten
// minutes of a saturated 1 Mbit/s uplink, then the cut and 90 s more):
// the target is under 30 s of wall time.
func BenchmarkDefaultScenario(b *testing.B) { benchScenario(b, DefaultName, gso.ControlFirst) }
