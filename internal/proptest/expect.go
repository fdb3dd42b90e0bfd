// Package proptest holds helpers for the project's property tests.
package proptest

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Failure is what rapid reported when it falsified a property.
type Failure struct {
	Message string
}

// ExpectFailure runs prop with rapid and returns what rapid reported when it
// falsified it, or nil when every case passed. Tests use it to show that a
// property bites: run it against a deliberately broken implementation and
// require a failure. Rapid's fail files are not written for these runs, since
// the failure is the expected outcome.
func ExpectFailure(t *testing.T, prop func(*rapid.T)) *Failure {
	t.Helper()
	old := flag.Lookup("rapid.nofailfile").Value.String()
	if err := flag.Set("rapid.nofailfile", "true"); err != nil {
		t.Fatalf("rapid flags: %v", err)
	}
	defer flag.Set("rapid.nofailfile", old)

	rec := &recorder{name: t.Name()}
	func() {
		defer func() {
			if r := recover(); r != nil && r != errStop {
				panic(r)
			}
		}()
		rapid.Check(rec, prop)
	}()
	if !rec.failed {
		return nil
	}
	return &Failure{Message: rec.msg.String()}
}

var errStop = fmt.Errorf("proptest: stop")

// recorder is a rapid.TB that keeps the verdict instead of failing the
// enclosing test.
type recorder struct {
	name   string
	failed bool
	msg    strings.Builder
}

func (r *recorder) Helper()                          {}
func (r *recorder) Name() string                     { return r.name }
func (r *recorder) Logf(format string, args ...any)  { r.logf(format, args...) }
func (r *recorder) Log(args ...any)                  { r.logf("%s", fmt.Sprintln(args...)) }
func (r *recorder) Skipf(format string, args ...any) { r.SkipNow() }
func (r *recorder) Skip(args ...any)                 { r.SkipNow() }
func (r *recorder) SkipNow()                         { panic(errStop) }
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.logf(format, args...)
}
func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprintln(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprintln(args...)) }
func (r *recorder) FailNow()          { r.failed = true; panic(errStop) }
func (r *recorder) Fail()             { r.failed = true }
func (r *recorder) Failed() bool      { return r.failed }

func (r *recorder) logf(format string, args ...any) {
	if r.msg.Len() < 1<<16 {
		fmt.Fprintf(&r.msg, format+"\n", args...)
	}
}

// UseChecks makes n the number of cases each rapid property runs, unless
// -rapid.checks is given on the command line. Call it from an init function
// in a package's tests: the project wants every property to run at least a
// thousand cases in `make test`, not rapid's default hundred.
func UseChecks(n int) {
	if err := flag.Set("rapid.checks", fmt.Sprint(n)); err != nil {
		panic(err)
	}
}
