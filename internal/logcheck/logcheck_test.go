package logcheck

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestAnErrorRecordFromAnyGoroutineIsReportedAndLowerLevelsAreNot(t *testing.T) {
	h := NewHandler()
	log := slog.New(h).With("conn", 7)
	log.Info("fine")
	log.Warn("worrying")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		log.WithGroup("drv").Error("receive failed", "err", "boom")
	}()
	wg.Wait()
	errs := h.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "receive failed") || !strings.Contains(errs[0], "conn=7") {
		t.Fatalf("errors %q, want the one error record with its attributes", errs)
	}
	// Check fails the test it is given; a fake TB shows it.
	var fake fakeTB
	h.Check(&fake)
	if !fake.failed {
		t.Fatal("Check did not fail the test")
	}
	var clean fakeTB
	NewHandler().Check(&clean)
	if clean.failed {
		t.Fatal("Check failed a test without error records")
	}
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
