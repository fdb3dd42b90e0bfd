package drivers

import (
	"log/slog"
	"testing"
)

// A driver given a zero Config runs with DefaultConfig's kernel budget and
// receive sizes (the pump fills in the rest of its own, see pump's test).
func TestAZeroConfigRunsWithDefaultConfig(t *testing.T) {
	d, err := New(&heldConn{closed: make(chan struct{})}, Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	got := d.cfg
	if got.Pump.KernelDataBudget != want.Pump.KernelDataBudget || got.RecvMessages != want.RecvMessages ||
		got.RecvBufferSize != want.RecvBufferSize {
		t.Fatalf("budget %d recv %d×%d, want budget %d recv %d×%d", got.Pump.KernelDataBudget, got.RecvMessages,
			got.RecvBufferSize, want.Pump.KernelDataBudget, want.RecvMessages, want.RecvBufferSize)
	}
}
