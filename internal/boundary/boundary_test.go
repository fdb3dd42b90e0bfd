package boundary

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at the repository root: %v", err)
	}
	return root
}

// checkTree applies r to every non-test Go file below dir and returns how
// many files it read.
func checkTree(t *testing.T, dir string, r Rules) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), p)
		vs, err := CheckFile(rel, src, r)
		if err != nil {
			return err
		}
		for _, v := range vs {
			t.Errorf("%v", v)
		}
		files++
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

func TestTheCoreAndTheSimulatorArePure(t *testing.T) {
	root := repoRoot(t)
	n := checkTree(t, filepath.Join(root, "state"), Pure)
	n += checkTree(t, filepath.Join(root, "sim"), Pure)
	if n == 0 {
		t.Fatal("no files checked: the walk is broken")
	}
}

func TestDriversDoNotImportTheSimulator(t *testing.T) {
	if checkTree(t, filepath.Join(repoRoot(t), "drivers"), DriversRules) == 0 {
		t.Fatal("no files checked: the walk is broken")
	}
}

// Each planted snippet must be caught, and the clean one must pass: the
// rules are only worth what this table shows they catch.
func TestPlantedViolationsAreCaught(t *testing.T) {
	cases := []struct {
		name  string
		rules Rules
		src   string
		want  string // substring of the violation; "" means none expected
	}{
		{"net socket", Pure, `package p; import "net"; var _ net.Conn`, `imports "net"`},
		{"net below net", Pure, `package p; import "net/http"; var _ http.Client`, `imports "net/http"`},
		{"netip is fine", Pure, `package p; import "net/netip"; var _ netip.Addr`, ""},
		{"os", Pure, `package p; import "os"; var _ = os.Args`, `imports "os"`},
		{"syscall", Pure, `package p; import "syscall"; var _ = syscall.Getpid`, `imports "syscall"`},
		{"x/sys", Pure, `package p; import "golang.org/x/sys/unix"; var _ = unix.Getpid`, `imports "golang.org/x/sys/unix"`},
		{"sync", Pure, `package p; import "sync"; var _ sync.Mutex`, `imports "sync"`},
		{"sync/atomic", Pure, `package p; import "sync/atomic"; var _ atomic.Int64`, `imports "sync/atomic"`},
		{"crypto/rand", Pure, `package p; import "crypto/rand"; var _ = rand.Reader`, `imports "crypto/rand"`},
		{"time.Now", Pure, `package p; import "time"; func f() { _ = time.Now() }`, "time.Now"},
		{"time.Since", Pure, `package p; import "time"; func f(t time.Time) { _ = time.Since(t) }`, "time.Since"},
		{"time.Until", Pure, `package p; import "time"; func f(t time.Time) { _ = time.Until(t) }`, "time.Until"},
		{"time.Sleep", Pure, `package p; import "time"; func f() { time.Sleep(1) }`, "time.Sleep"},
		{"time.After", Pure, `package p; import "time"; func f() { <-time.After(1) }`, "time.After"},
		{"time.Tick", Pure, `package p; import "time"; func f() { <-time.Tick(1) }`, "time.Tick"},
		{"time.NewTimer", Pure, `package p; import "time"; func f() { time.NewTimer(1) }`, "time.NewTimer"},
		{"time.NewTicker", Pure, `package p; import "time"; func f() { time.NewTicker(1) }`, "time.NewTicker"},
		{"time.Now as a value", Pure, `package p; import "time"; var clock = time.Now`, "time.Now"},
		{"renamed time", Pure, `package p; import t "time"; func f() { t.Sleep(1) }`, "time.Sleep"},
		{"durations are fine", Pure, `package p; import "time"; func f(a time.Time) time.Time { return a.Add(time.Second) }`, ""},
		{"global math/rand", Pure, `package p; import "math/rand"; func f() int { return rand.Intn(3) }`, "math/rand.Intn"},
		{"global math/rand/v2", Pure, `package p; import "math/rand/v2"; func f() uint64 { return rand.Uint64() }`, "math/rand/v2.Uint64"},
		{"seeded source is fine", Pure, `package p; import "math/rand/v2"; func f(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, 1)) }`, ""},
		{"goroutine", Pure, `package p; func f() { go f() }`, "starts a goroutine"},
		{"the core imports a driver", Pure, `package p; import "github.com/peerlink/peerlink/drivers/linux"; var _ = linux.New`, `imports "github.com/peerlink/peerlink/drivers/linux"`},
		{"drivers import sim", DriversRules, `package p; import "github.com/peerlink/peerlink/sim/world"; var _ = world.X`, `imports "github.com/peerlink/peerlink/sim/world"`},
		{"drivers may use the OS", DriversRules, `package p; import ("os"; "time"); var _, _ = os.Args, time.Now`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := CheckFile("planted.go", []byte(c.src), c.rules)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(vs) != 0 {
					t.Fatalf("clean snippet flagged: %v", vs)
				}
				return
			}
			for _, v := range vs {
				if strings.Contains(v.What, c.want) {
					return
				}
			}
			t.Fatalf("violation %q not caught; got %v", c.want, vs)
		})
	}
}

func TestNoMapIsRangedWhereOrderCouldLeak(t *testing.T) {
	vs, err := MapRanges(repoRoot(t), "./state/...", "./sim/...")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("%v", v)
	}
}

func TestAMapRangeIsCaughtUnlessMarked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module planted\n\ngo 1.24\n")
	write("p.go", `package planted

type set map[string]bool

func Leaky(m set) (out []string) {
	for k := range m {
		out = append(out, k)
	}
	return out
}

func Summed(m map[string]int) (n int) {
	// peerlink:order-independent: a sum does not depend on order.
	for _, v := range m {
		n += v
	}
	return n
}

func Slice(s []int) (n int) {
	for _, v := range s {
		n += v
	}
	return n
}
`)
	vs, err := MapRanges(dir, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Pos.Line != 6 {
		t.Fatalf("want exactly the unmarked range over a named map type at line 6, got %v", vs)
	}
}
