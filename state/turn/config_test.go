package turn

import "testing"

// A zero Config gets exactly DefaultConfig's values, so the documented
// defaults are the ones a client runs with.
func TestAZeroConfigRunsWithDefaultConfig(t *testing.T) {
	if got, want := (Config{}).WithDefaults(), DefaultConfig(); got != want {
		t.Fatalf("zero config with defaults %+v, DefaultConfig %+v", got, want)
	}
}
