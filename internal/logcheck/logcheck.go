// Package logcheck gives tests a *slog.Logger that fails the test when
// anything logs at Error level or above: in property, scenario and
// real-network tests an error-level log means something went wrong that
// the assertions may not see. Records below Error are kept for the
// failure message, not printed, so a passing test stays quiet.
package logcheck

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// keep bounds the records remembered for the failure message.
const keep = 200

type state struct {
	mu     sync.Mutex
	errors []string
	recent []string
}

// Handler records every record and remembers those at Error or above. It
// is safe for concurrent use: drivers log from their own goroutines.
type Handler struct {
	st     *state
	prefix string // attributes and groups added with WithAttrs/WithGroup
}

// NewHandler returns a recording handler; Errors reports what it saw.
func NewHandler() *Handler { return &Handler{st: &state{}} }

// New returns a logger for t whose error-level records fail t when the
// test ends (at Cleanup, so that records from goroutines still count
// while the test waits for them).
func New(t testing.TB) *slog.Logger {
	h := NewHandler()
	t.Cleanup(func() { h.Check(t) })
	return slog.New(h)
}

// Check fails t if any record at Error or above arrived, showing them and
// the records just before.
func (h *Handler) Check(t testing.TB) {
	t.Helper()
	if errs := h.Errors(); len(errs) > 0 {
		h.st.mu.Lock()
		recent := strings.Join(h.st.recent, "\n")
		h.st.mu.Unlock()
		t.Errorf("%d error-level log records:\n%s\nrecent records:\n%s", len(errs), strings.Join(errs, "\n"), recent)
	}
}

// Errors returns the error-level records seen so far, formatted.
func (h *Handler) Errors() []string {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	return append([]string(nil), h.st.errors...)
}

func (h *Handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s", r.Level, h.prefix, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	line := b.String()
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if r.Level >= slog.LevelError {
		h.st.errors = append(h.st.errors, line)
	}
	if len(h.st.recent) == keep {
		h.st.recent = h.st.recent[1:]
	}
	h.st.recent = append(h.st.recent, line)
	return nil
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value)
	}
	return &Handler{st: h.st, prefix: b.String()}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{st: h.st, prefix: h.prefix + name + "."}
}
