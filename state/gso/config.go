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

// Config of a Queue. The zero value of every field (zero or negative)
// means its default; DefaultConfig shows the defaults and each field says
// why it has its value.
type Config struct {
	// Caps come from the driver. Default MaxSegments 64: Linux's
	// UDP_MAX_SEGMENTS before 6.10, which every kernel with UDP GSO takes.
	Caps Caps
	// Policy orders the batches; ControlFirst unless comparing.
	Policy Policy
	// DataByteLimit bounds the buffer memory held by queued Data batches;
	// beyond it Enqueue refuses Data with ErrQueueFull. Default 2 MiB: 32
	// full 64 KiB batches, about ten times the default Linux socket send
	// buffer, so the queue rides out a burst while the socket drains but
	// pushes back before it hides seconds of latency on a slow link.
	DataByteLimit int
	// ControlByteLimit bounds the buffer memory held by queued Control
	// batches. Control is never refused because of Data. Default 8 MiB,
	// only a guard against a runaway producer: Control traffic is small
	// and paced, so reaching it means a bug.
	ControlByteLimit int
	// IdleBufferTTL: pooled buffers unused for this long are released (by
	// HandleTimeout), so a burst does not pin its peak memory. Default
	// 60 s: long enough that steady traffic reuses its buffers, short
	// enough that the memory of a burst goes within a minute.
	IdleBufferTTL time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Caps:             Caps{MaxSegments: 64},
		Policy:           ControlFirst,
		DataByteLimit:    2 << 20,
		ControlByteLimit: 8 << 20,
		IdleBufferTTL:    60 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Caps.MaxSegments <= 0 {
		c.Caps.MaxSegments = d.Caps.MaxSegments
	}
	if c.DataByteLimit <= 0 {
		c.DataByteLimit = d.DataByteLimit
	}
	if c.ControlByteLimit <= 0 {
		c.ControlByteLimit = d.ControlByteLimit
	}
	if c.IdleBufferTTL <= 0 {
		c.IdleBufferTTL = d.IdleBufferTTL
	}
	return c
}
