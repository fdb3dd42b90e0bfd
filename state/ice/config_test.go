package ice

import "testing"

// A zero Config gets exactly DefaultConfig's values (ProbeMemory, which
// DefaultConfig leaves to be derived from the timeouts, aside), so the
// documented defaults are the ones an agent runs with.
func TestAZeroConfigRunsWithDefaultConfig(t *testing.T) {
	want := DefaultConfig()
	got := Config{}.WithDefaults()
	if got.ProbeMemory != 42 {
		t.Errorf("ProbeMemory %d, want 42 with the default timers", got.ProbeMemory)
	}
	got.ProbeMemory = 0
	if got != want {
		t.Fatalf("zero config with defaults %+v, DefaultConfig %+v", got, want)
	}
}
