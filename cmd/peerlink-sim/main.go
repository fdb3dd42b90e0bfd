// Command peerlink-sim runs a named simulation scenario with peerlink's
// real connection core, queue and pump in a deterministic world, prints a
// summary and writes an SVG plot of probe delay and queue depth.
//
//	peerlink-sim                       # the default scenario, a random seed
//	peerlink-sim -seed 42              # replay a run: the seed is printed first
//	peerlink-sim -compare              # the same seed under each queue policy
//	peerlink-sim -scenario idle-hour -duration 1h
//
// The simulator itself reads no clock; this command measures the wall time
// of each run to report simulated seconds per wall second.
package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerlink/peerlink/sim/scenario"
	"github.com/peerlink/peerlink/state/gso"
)

// policies are compared in this order: peerlink's control lane first.
var policies = []gso.Policy{gso.ControlFirst, gso.FIFO, gso.SmallestSegmentFirst}

type options struct {
	scenario string
	seed     uint64
	seedSet  bool
	duration time.Duration
	svg      string
	compare  bool
	policy   string
	budget   int
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "peerlink-sim:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	sc, ok := scenario.Lookup(o.scenario)
	if !ok {
		return fmt.Errorf("unknown scenario %q; known: %s", o.scenario, strings.Join(scenario.Names(), ", "))
	}
	if !o.seedSet {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			return err
		}
		o.seed = binary.BigEndian.Uint64(b[:]) >> 1 // fits a flag's int64 too
	}
	fmt.Fprintf(out, "seed %d\n", o.seed)
	fmt.Fprintf(out, "scenario %s: %s\n", sc.Name, sc.About)
	fmt.Fprintf(out, "replay: go run ./cmd/peerlink-sim -scenario %s -seed %d%s\n\n", sc.Name, o.seed, replayFlags(o))

	run := policies[:1]
	if o.compare {
		run = policies
	} else if o.policy != "" {
		p, err := policyNamed(o.policy)
		if err != nil {
			return err
		}
		run = []gso.Policy{p}
	}
	var results []*scenario.Result
	var walls []time.Duration
	for _, p := range run {
		spec := sc.Build(scenario.Options{Seed: o.seed, Duration: o.duration, KernelDataBudget: o.budget})
		spec.Policy = p
		if p != gso.ControlFirst {
			// The comparison policies run with the queue's byte bound
			// alone: the pump's delay bound keeps even FIFO's probes
			// within a few hundred milliseconds, and the comparison is
			// about the control lane.
			spec.DataQueueDelay = -1
		}
		start := time.Now()
		res, err := scenario.Run(spec)
		wall := time.Since(start)
		if err != nil {
			return err
		}
		scenario.WriteSummary(out, res, wall)
		fmt.Fprintln(out)
		results = append(results, res)
		walls = append(walls, wall)
	}
	svg := o.svg
	if svg == "" {
		svg = filepath.Join("sim", "out", fmt.Sprintf("%s-%d.svg", sc.Name, o.seed))
	}
	if err := os.MkdirAll(filepath.Dir(svg), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(svg, scenario.Plot(results), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "plot written to %s\n", svg)
	for i, res := range results {
		fmt.Fprintln(out, scenario.SummaryLine(res, walls[i]))
	}
	return nil
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("peerlink-sim", flag.ContinueOnError)
	fs.StringVar(&o.scenario, "scenario", scenario.DefaultName, "scenario to run: "+strings.Join(scenario.Names(), ", "))
	seed := fs.Uint64("seed", 0, "world seed (default: random; printed first, and enough to replay)")
	fs.DurationVar(&o.duration, "duration", 0, "simulated time before the cut (or in all, without a cut); 0 keeps the scenario's")
	fs.StringVar(&o.svg, "svg", "", "where to write the plot (default sim/out/<scenario>-<seed>.svg)")
	fs.BoolVar(&o.compare, "compare", false, "run the same seed under each queue policy: control-lane, fifo, smallest-first")
	fs.StringVar(&o.policy, "policy", "", "queue policy without -compare (default control-lane)")
	fs.IntVar(&o.budget, "budget", 0, "pump kernel data budget in bytes (0: the scenario's, 12288 by default as in the drivers; -1: off)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			o.seedSet = true
		}
	})
	o.seed = *seed
	return o, nil
}

func policyNamed(name string) (gso.Policy, error) {
	for _, p := range policies {
		if p.String() == name {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown policy %q", name)
}

// replayFlags repeats the flags that change a run, so the printed command
// reproduces it.
func replayFlags(o options) string {
	var b strings.Builder
	if o.duration > 0 {
		fmt.Fprintf(&b, " -duration %v", o.duration)
	}
	if o.budget != 0 {
		fmt.Fprintf(&b, " -budget %d", o.budget)
	}
	if o.compare {
		b.WriteString(" -compare")
	} else if o.policy != "" {
		fmt.Fprintf(&b, " -policy %s", o.policy)
	}
	return b.String()
}
