package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTwoHostsBringUpATunnel runs the example as the README does: two
// network namespaces joined by a veth, one wgpeer in each, signalling over
// a Unix socket, then a ping through the tunnel.
func TestTwoHostsBringUpATunnel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example; skipped with -short")
	}
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (namespaces and TUN devices)"
	} else if _, err := exec.LookPath("ping"); err != nil {
		missing = "ping (iputils-ping)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the example's test needs %s, and CI=true requires it", missing)
		}
		t.Skipf("the example's test needs %s; skipping", missing)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wgpeer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tag := fmt.Sprintf("%06x", rand.Uint32()>>8)
	nsA, nsB := "wgpeer-"+tag+"-a", "wgpeer-"+tag+"-b"
	for _, ns := range []string{nsA, nsB} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	mustRun(t, "ip", "link", "add", "ea"+tag, "netns", nsA, "type", "veth", "peer", "name", "eb"+tag, "netns", nsB)
	mustRun(t, "ip", "-n", nsA, "addr", "add", "10.204.0.1/24", "dev", "ea"+tag)
	mustRun(t, "ip", "-n", nsB, "addr", "add", "10.204.0.2/24", "dev", "eb"+tag)
	mustRun(t, "ip", "-n", nsA, "link", "set", "ea"+tag, "up")
	mustRun(t, "ip", "-n", nsB, "link", "set", "eb"+tag, "up")

	sock := filepath.Join(dir, "signal.sock")
	a := start(t, nsA, bin, "-serve", "-signal", sock, "-local", "10.204.0.1", "-tun", "pa"+tag, "-addr", "10.99.0.1/24", "-peer", "10.99.0.2/32")
	b := start(t, nsB, bin, "-signal", sock, "-local", "10.204.0.2", "-tun", "pb"+tag, "-addr", "10.99.0.2/24", "-peer", "10.99.0.1/32")
	for _, p := range []*proc{a, b} {
		p.await(t, "up with")
		p.await(t, "connected after")
	}
	out, err := exec.Command("ip", "netns", "exec", nsA, "ping", "-n", "-c", "1", "-i", "0.05", "-w", "10", "10.99.0.2").CombinedOutput()
	if err != nil {
		t.Fatalf("ping through the example's tunnel: %v\n%s", err, out)
	}
	for _, p := range []*proc{a, b} {
		if err := p.stop(); err != nil {
			t.Errorf("%s: %v", p.ns, err)
		}
	}
}

type proc struct {
	ns    string
	cmd   *exec.Cmd
	lines chan string
}

func start(t *testing.T, ns, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{ns: ns, cmd: cmd, lines: make(chan string, 100)}
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			t.Logf("%s: %s", ns, s.Text())
			select {
			case p.lines <- s.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		w.Close()
	})
	return p
}

func (p *proc) await(t *testing.T, what string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, what) {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no %q within 20 s", p.ns, what)
		}
	}
}

// stop ends the program as Ctrl-C would; it must exit cleanly.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("did not exit within 10 s of SIGTERM")
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
