package pump

import (
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// Overflow says what happens to Data past the queue's delay bound.
type Overflow uint8

const (
	// BackPressure refuses the new payload with gso.ErrQueueFull (nothing
	// queued is lost); the program waits until the queue is writable
	// again. For applications that can wait.
	BackPressure Overflow = iota
	// DropHead drops the oldest queued Data (counted in
	// Stats.DataHeadDropped and the queue's HeadDropped) and takes the new
	// payload. For tunnels whose traffic has its own congestion control,
	// which learns of the full path from the loss.
	DropHead
)

// Config of a Pump. A zero field means its default, except
// KernelDataBudget (see there); DefaultConfig shows the defaults and each
// field says why it has its value.
type Config struct {
	// Queue configures the send queue (gso.DefaultConfig); its Caps come
	// from the Conn.
	Queue gso.Config
	// PeekBatches bounds the batches offered to one Conn.Send. Default 64:
	// sendmmsg takes up to 1024 messages, but 64 batches of up to 64
	// segments already exceed any socket buffer, so more buys nothing.
	PeekBatches int
	// KernelDataBudget is the floor of the kernel budget, in bytes. The
	// budget bounds the Data the kernel holds unsent for the socket
	// (SIOCOUTQ, which counts the kernel's per-buffer overhead too) to what
	// drains within KernelTargetDelay at the rate the pump measures, and
	// never below this floor: each flush offers only as much Data as fits
	// beside what is already there, so a probe sent next waits behind at
	// most that much. Only Conns that implement UnsentCounter honour it.
	// Unlike the other fields, 0 disables the budget, so that a Pump built
	// by hand does only what it is told; drivers and the simulator's
	// scenarios use the default, 12 KiB: about ten 1200-byte datagrams.
	// Below it the budget would cut GSO batches to a few segments and wake
	// the loop for every few datagrams on slow links, where 12 KiB already
	// takes 98 ms at 1 Mbit/s.
	KernelDataBudget int
	// KernelTargetDelay is the drain time the budget allows: a probe sent
	// next waits about this long. Default 5 ms, CoDel's target for a
	// standing queue, well under any probe timeout or RTT a path is judged
	// by; since the pump refills the kernel when half of it has drained,
	// it leaves the loop 2.5 ms to wake before the link would idle, above
	// the scheduling jitter of a busy host. At 1 Gbit/s it lets the kernel
	// hold 625 KB, more than a default socket buffer, so fast links are
	// not capped; on slow ones the floor (KernelDataBudget) decides.
	KernelTargetDelay time.Duration
	// BudgetRecheck and BudgetRecheckMax bound the wait of held Data
	// before the kernel queue is measured again. The wait in between is
	// the time the kernel takes, at the measured rate, to drain to half
	// the budget. Defaults 1 ms and 64 ms: the bounds guard against a rate
	// not yet known (the wait starts at the shortest and doubles) and a
	// link that stalled (64 ms keeps it from running dry for long if it
	// comes back).
	BudgetRecheck    time.Duration
	BudgetRecheckMax time.Duration
	// DataQueueDelay bounds the Data queued in the pump by its drain time
	// at the measured rate, never below DataQueueFloor bytes; past it,
	// Overflow decides. Negative disables it (the queue's byte limit still
	// applies). Without a measured rate (a Conn that is no UnsentCounter,
	// or before the first sample) only the byte limit applies. Default
	// 25 ms, five times CoDel's 5 ms target and a quarter of its 100 ms
	// interval: a tunnelled TCP sees at most a quarter of a typical round
	// trip added (a 2 MiB byte bound alone is 8 s at 2 Mbit/s), while a
	// program that waits on back-pressure (Pump.Writable, released at
	// half the bound) has over 12 ms to refill before the link would idle.
	DataQueueDelay time.Duration
	// DataQueueFloor is the least the delay bound allows. Default 8 KiB,
	// about seven 1200-byte datagrams, so a slow link still batches and a
	// waiting program is not woken for every datagram.
	DataQueueFloor int
	// Overflow says what happens to Data past the delay bound. Default
	// BackPressure: nothing queued is lost unless the program asks for it.
	Overflow Overflow
	// StreamBytes bounds the bytes waiting in the pump for each of the
	// driver's streams (relays over TCP or TLS): Data past it is refused
	// like the queue's back-pressure (gso.ErrQueueFull), so a program that
	// sends faster than a stream drains waits instead of losing data.
	// Default 256 KiB, about 200 full datagrams; Control always has room
	// beside Data (streamOutbox.admit). Per stream, so that one stuck relay
	// does not refuse another's Data; the whole is bounded by the relays a
	// program adds.
	StreamBytes int
}

// DefaultConfig returns the defaults documented on Config, the kernel
// budget included (what drivers run with).
func DefaultConfig() Config {
	return Config{
		Queue:             gso.DefaultConfig(),
		PeekBatches:       64,
		KernelDataBudget:  12 << 10,
		KernelTargetDelay: 5 * time.Millisecond,
		BudgetRecheck:     time.Millisecond,
		BudgetRecheckMax:  64 * time.Millisecond,
		DataQueueDelay:    25 * time.Millisecond,
		DataQueueFloor:    8 << 10,
		Overflow:          BackPressure,
		StreamBytes:       256 << 10,
	}
}

// withDefaults sets every zero field but KernelDataBudget to its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.PeekBatches <= 0 {
		c.PeekBatches = d.PeekBatches
	}
	if c.KernelTargetDelay <= 0 {
		c.KernelTargetDelay = d.KernelTargetDelay
	}
	if c.BudgetRecheck <= 0 {
		c.BudgetRecheck = d.BudgetRecheck
	}
	if c.BudgetRecheckMax <= 0 {
		c.BudgetRecheckMax = d.BudgetRecheckMax
	}
	c.BudgetRecheckMax = max(c.BudgetRecheckMax, c.BudgetRecheck)
	if c.DataQueueDelay == 0 {
		c.DataQueueDelay = d.DataQueueDelay
	}
	if c.DataQueueFloor <= 0 {
		c.DataQueueFloor = d.DataQueueFloor
	}
	if c.StreamBytes <= 0 {
		c.StreamBytes = d.StreamBytes
	}
	return c
}
