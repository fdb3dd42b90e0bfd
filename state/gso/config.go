package gso

import "time"

// Policy decides the order in which queued batches leave.
type Policy uint8

const (
	// ControlFirst sends every Control batch before any Data batch and keeps
	// enqueue order within each class. It is the only policy a program
	// should use.
	ControlFirst Policy = iota
	// FIFO sends batches in enqueue order regardless of class: a probe waits
	// behind whatever bulk data was queued before it. Kept for comparison
	// runs (the simulator's -compare) and for tests that show the
	// control-lane properties fail without the control lane.
	FIFO
	// SmallestSegmentFirst sends batches with the smallest segment size
	// first. It lets small probes overtake bulk data but reorders a flow,
	// whose short tail overtakes its own full-size segments. Kept for
	// comparison only.
	SmallestSegmentFirst
)

func (p Policy) String() string {
	switch p {
	case ControlFirst:
		return "control-lane"
	case FIFO:
		return "fifo"
	case SmallestSegmentFirst:
		return "smallest-first"
	}
	return "invalid"
}

// Defaults, and why.
const (
	// DefaultMaxSegments matches Linux's UDP_MAX_SEGMENTS before 6.10.
	DefaultMaxSegments = 64
	// DefaultDataByteLimit is the memory queued Data batches may hold: 32
	// full 64 KiB batches, about ten times the default Linux socket send
	// buffer, so the queue rides out a burst while the socket drains but
	// pushes back before it hides seconds of latency on a slow link.
	DefaultDataByteLimit = 2 << 20
	// DefaultControlByteLimit only guards against a runaway producer:
	// Control traffic is small and paced, so reaching it means a bug.
	DefaultControlByteLimit = 8 << 20
	// DefaultIdleBufferTTL is how long a pooled buffer may sit unused before
	// HandleTimeout lets it go, so a burst does not pin its peak memory.
	DefaultIdleBufferTTL = 60 * time.Second
)

// Config of a Queue. The zero value of every field means its default.
type Config struct {
	// Caps come from the driver.
	Caps Caps
	// Policy orders the batches; ControlFirst unless comparing.
	Policy Policy
	// DataByteLimit bounds the buffer memory held by queued Data batches;
	// beyond it Enqueue refuses Data with ErrQueueFull.
	DataByteLimit int
	// ControlByteLimit bounds the buffer memory held by queued Control
	// batches. Control is never refused because of Data.
	ControlByteLimit int
	// IdleBufferTTL: pooled buffers unused for this long are released.
	IdleBufferTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.Caps.MaxSegments <= 0 {
		c.Caps.MaxSegments = DefaultMaxSegments
	}
	if c.DataByteLimit <= 0 {
		c.DataByteLimit = DefaultDataByteLimit
	}
	if c.ControlByteLimit <= 0 {
		c.ControlByteLimit = DefaultControlByteLimit
	}
	if c.IdleBufferTTL <= 0 {
		c.IdleBufferTTL = DefaultIdleBufferTTL
	}
	return c
}
