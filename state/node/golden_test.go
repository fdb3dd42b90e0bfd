package node

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerlink/peerlink/state/ice"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt scenarios")

// TestScenarios runs the scripts in testdata: lines starting with "> " are
// commands for the pair harness, lines starting with "#" are comments, and
// every other line is the output the command before it must produce. Run
// with -update to regenerate the outputs after an intended change.
//
// Commands:
//
//	connect <role a> <role b>   create connection 1 on both nodes
//	run <duration> [quiet]      advance the clock; quiet logs events only
//	send <a|b> <count> <bytes>  send application datagrams
//	cut / heal                  drop every datagram in flight, or stop that
//	next                        print each node's next deadline and reason
//	stats                       print probe and drop counters
//	relay [refresh <duration>]  start the TURN relay and add it to both nodes
//	                            (allocations refreshed that often)
//	relay-restart               the relay forgets every allocation
//	path                        print each node's path, or none
//	block-direct / open-direct  drop datagrams between the nodes' own
//	                            addresses (the relay stays reachable), or stop
//	relay-down                  the relay stops answering for good
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatal("no scenarios", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type block struct {
	comments []string
	cmd      string
	want     []string
}

func parseScenario(t *testing.T, text string) []block {
	var blocks []block
	var comments []string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#") || (line == "" && len(blocks) == 0):
			comments = append(comments, line)
		case strings.HasPrefix(line, "> "):
			blocks = append(blocks, block{comments: comments, cmd: strings.TrimPrefix(line, "> ")})
			comments = nil
		case len(blocks) > 0:
			if line != "" {
				blocks[len(blocks)-1].want = append(blocks[len(blocks)-1].want, line)
			}
		default:
			t.Fatalf("output before the first command: %q", line)
		}
	}
	return blocks
}

func runScenario(t *testing.T, file string) {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseScenario(t, string(text))
	h := newPairHarness(t, 42, ice.Config{})
	var out strings.Builder
	for i := range blocks {
		b := &blocks[i]
		h.log = nil
		h.exec(t, b.cmd)
		got := h.log
		for _, c := range b.comments {
			out.WriteString(c + "\n")
		}
		out.WriteString("> " + b.cmd + "\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		out.WriteString("\n")
		if !*update {
			if diff := cmp.Diff(b.want, got, cmp.Comparer(func(x, y []string) bool {
				return strings.Join(x, "\n") == strings.Join(y, "\n")
			})); diff != "" {
				t.Errorf("%s: > %s (-want +got):\n%s", file, b.cmd, diff)
			}
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *pairHarness) exec(t *testing.T, cmd string) {
	f := strings.Fields(cmd)
	side := func(s string) int {
		if s == "a" {
			return 0
		}
		if s == "b" {
			return 1
		}
		t.Fatalf("unknown side %q", s)
		return 0
	}
	role := func(s string) Role {
		if s == "controlling" {
			return Controlling
		}
		return Controlled
	}
	atoi := func(s string) int {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		return v
	}
	switch f[0] {
	case "connect":
		h.connect([2]Role{role(f[1]), role(f[2])})
	case "run":
		d, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatal(err)
		}
		h.quiet = len(f) > 2 && f[2] == "quiet"
		h.runFor(d)
		h.quiet = false
	case "send":
		h.send(side(f[1]), atoi(f[2]), atoi(f[3]))
	case "cut":
		h.cut = true
	case "heal":
		h.cut = false
	case "relay":
		cfg := fastRelay
		if len(f) == 3 && f[1] == "refresh" {
			d, err := time.ParseDuration(f[2])
			if err != nil {
				t.Fatal(err)
			}
			cfg.RefreshAfter = d
		}
		for _, n := range h.nodes {
			n.cfg.Relay = cfg.WithDefaults()
		}
		h.withRelay()
	case "relay-restart":
		h.restartRelay()
	case "path":
		for i, n := range h.nodes {
			if p, ok := n.Path(connID); ok {
				h.log = append(h.log, fmt.Sprintf("%s path %s", names[i], p))
			} else {
				h.log = append(h.log, names[i]+" path none")
			}
		}
	case "block-direct":
		h.blockDirect = true
	case "open-direct":
		h.blockDirect = false
	case "relay-down":
		h.relayDown = true
	case "next":
		for i, n := range h.nodes {
			d, reason, ok := n.PollTimeout()
			if ok {
				h.log = append(h.log, fmt.Sprintf("%s next %.3f %s", names[i], d.Sub(epoch).Seconds(), reason))
			} else {
				h.log = append(h.log, names[i]+" next none")
			}
		}
	case "stats":
		for i, n := range h.nodes {
			line := fmt.Sprintf("%s sent control=%d data=%d received=%d", names[i], h.sent[i][0], h.sent[i][1], h.received[i])
			if c, ok := n.conns[connID]; ok {
				s := c.agent.Stats()
				line += fmt.Sprintf(" checks=%d retransmits=%d probes=%d responses=%d role-conflicts=%d idle=%v",
					s.ChecksSent, s.Retransmits, s.ProbesSent, s.ResponsesSent, s.RoleConflicts, c.agent.Idle())
			}
			st := n.Stats()
			for r, v := range st.Dropped {
				if v > 0 {
					line += fmt.Sprintf(" drop-%s=%d", DropReason(r), v)
				}
			}
			h.log = append(h.log, line)
		}
	default:
		t.Fatalf("unknown command %q", cmd)
	}
}
