package scenario

import (
	"fmt"
	"io"
	"math"
	"time"
)

// maxTimelineLines bounds the printed timeline; a run with many restarts
// prints its first and last changes.
const maxTimelineLines = 24

// WriteSummary prints a run's summary table. wall is the wall time the run
// took, measured by the caller (the simulator has no clock); 0 omits it.
func WriteSummary(w io.Writer, res *Result, wall time.Duration) {
	s := &res.Spec
	fmt.Fprintf(w, "policy %s  (scenario %s, seed %d)\n", s.Policy, s.Name, s.Seed)
	fmt.Fprintf(w, "  simulated %v in %d events, trace %016x (%d records)", res.Simulated, res.Events, res.TraceHash, res.TraceRecords)
	if wall > 0 {
		fmt.Fprintf(w, ", wall %v, %s simulated s per wall s", wall.Round(time.Millisecond), fmtSpeedup(res, wall))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-6s %10s %10s %10s %10s %8s %10s %10s %12s %6s %8s %8s\n",
		"peer", "ctl_p50_ms", "ctl_p99_ms", "ctl_max_ms", "bound_ms", "over", "sent_kB", "recv_kB", "goodput_kbps", "late", "late_sw", "q_max_kB")
	for i, p := range res.Peers {
		fmt.Fprintf(w, "  %-6s %10.1f %10.1f %10.1f %10.1f %8d %10d %10d %12.1f %6d %8d %8d\n",
			p.Name, ms(Percentile(p.ControlDelays, 50)), ms(Percentile(p.ControlDelays, 99)), ms(p.ControlDelayMax),
			ms(p.ControlDelayBound), p.OverBound, p.SentBytes/1000, p.ReceivedBytes/1000, res.Throughput(i)/1000,
			p.Late, p.LateAcrossSwitch, maxQueue(res, i)/1000)
	}
	fmt.Fprintln(w, "  timeline:")
	writeTimeline(w, res)
	fmt.Fprintf(w, "  false failures: %d   restarts: %d\n", res.FalseFailures, res.Restarts)
	writeNetChanges(w, res)
	if s.CutAt > 0 {
		fmt.Fprintf(w, "  cut at %v; detected:", s.CutAt)
		for i, p := range res.Peers {
			if res.Detected[i] {
				fmt.Fprintf(w, " %s after %.3f s", p.Name, res.Detect[i].Seconds())
			} else {
				fmt.Fprintf(w, " %s never", p.Name)
			}
		}
		fmt.Fprintln(w)
	}
}

func writeTimeline(w io.Writer, res *Result) {
	tl := res.Timeline
	head, tail := len(tl), 0
	if len(tl) > maxTimelineLines {
		head, tail = maxTimelineLines/2, maxTimelineLines/2
	}
	line := func(c Change) {
		mark := ""
		if c.False {
			mark = "  <- false failure"
		}
		fmt.Fprintf(w, "    %10.3f s  %-6s %s%s\n", c.At.Seconds(), res.Peers[c.Side].Name, c.Event, mark)
	}
	for _, c := range tl[:head] {
		line(c)
	}
	if tail > 0 {
		fmt.Fprintf(w, "    ... %d more ...\n", len(tl)-head-tail)
		for _, c := range tl[len(tl)-tail:] {
			line(c)
		}
	}
}

// SummaryLine is the one-line verdict the CLI ends with (`sim policy=...`).
// detect_delay_ms is the later side's detection delay, or -1 when a side
// never detected the cut (or the run has no cut).
func SummaryLine(res *Result, wall time.Duration) string {
	detect := int64(-1)
	if d, ok := res.DetectDelay(); ok && res.Spec.CutAt > 0 {
		detect = d.Milliseconds()
	}
	return fmt.Sprintf("sim policy=%s false_failures=%d late=%d probe_delay_max_ms=%d detect_delay_ms=%d speedup=%s",
		res.Spec.Policy, res.FalseFailures, res.Late(), res.ControlDelayMax().Milliseconds(), detect, fmtSpeedup(res, wall))
}

func fmtSpeedup(res *Result, wall time.Duration) string {
	if wall <= 0 {
		return "0"
	}
	return fmt.Sprintf("%d", int64(math.Round(res.Simulated.Seconds()/wall.Seconds())))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func maxQueue(res *Result, i int) int {
	m := 0
	for _, b := range res.Buckets {
		m = max(m, b.QueueBytes[i])
	}
	return m
}
