package pump

import "testing"

// A zero Config gets exactly DefaultConfig's values but the kernel budget,
// which zero disables; the queue's own defaults are gso's.
func TestAZeroConfigRunsWithDefaultConfigButNoKernelBudget(t *testing.T) {
	want := DefaultConfig()
	want.KernelDataBudget = 0
	want.Queue = (Config{}).Queue
	if got := (Config{}).withDefaults(); got != want {
		t.Fatalf("zero config with defaults %+v, want %+v", got, want)
	}
}
