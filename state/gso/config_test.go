package gso

import "testing"

// A zero Config gets exactly DefaultConfig's values, so the documented
// defaults are the ones a Queue runs with.
func TestAZeroConfigRunsWithDefaultConfig(t *testing.T) {
	if got, want := (Config{}).withDefaults(), DefaultConfig(); got != want {
		t.Fatalf("zero config with defaults %+v, DefaultConfig %+v", got, want)
	}
}
