// Package signal is the simulated rendezvous channel two peers use to swap
// ICE credentials and candidates before (and while) they connect: the
// stand-in for an application's own signalling server.
//
// Messages arrive after a modelled delay drawn from the world's random
// source and in the order they were sent along each direction, as over the
// TCP or WebSocket connection such a server keeps to each peer. Delivery is
// a world event, so a receiver never runs inside its sender's call.
package signal

import (
	"time"

	"github.com/peerlink/peerlink/sim/world"
)

// DefaultDelay is the one-way delay when Config.Delay is zero: a
// rendezvous server a continent away.
const DefaultDelay = 50 * time.Millisecond

// Config models the channel.
type Config struct {
	// Delay is the one-way latency of every message.
	Delay time.Duration
	// Jitter adds a uniform extra delay in [0, Jitter); messages still keep
	// their order along a direction.
	Jitter time.Duration
}

// Stats counts what the channel carried.
type Stats struct {
	Sent, Delivered uint64
}

// Channel carries messages between named endpoints.
type Channel struct {
	w     *world.World
	cfg   Config
	lanes []lane // one per direction seen, in first-use order
	stats Stats
}

// lane remembers the latest delivery along one direction, so that a later
// message never overtakes an earlier one.
type lane struct {
	from, to string
	last     time.Time
}

// New makes a channel in w.
func New(w *world.World, cfg Config) *Channel {
	if cfg.Delay <= 0 {
		cfg.Delay = DefaultDelay
	}
	return &Channel{w: w, cfg: cfg}
}

// Stats returns the channel's counters.
func (c *Channel) Stats() Stats { return c.stats }

// Send delivers a message from one endpoint to another by calling deliver
// at its arrival time. The message is whatever deliver closes over; the
// channel only models when it arrives. what names the message in the trace.
func (c *Channel) Send(from, to, what string, deliver func(now time.Time)) {
	at := c.w.Now().Add(c.cfg.Delay)
	if c.cfg.Jitter > 0 {
		at = at.Add(time.Duration(c.w.Rand().Int64N(int64(c.cfg.Jitter))))
	}
	l := c.lane(from, to)
	if at.Before(l.last) {
		at = l.last
	}
	l.last = at
	c.stats.Sent++
	c.w.Note("signal:"+from+">"+to, what)
	c.w.Schedule(at, "signal:"+to, func(now time.Time) {
		c.stats.Delivered++
		deliver(now)
	})
}

func (c *Channel) lane(from, to string) *lane {
	for i := range c.lanes {
		if c.lanes[i].from == from && c.lanes[i].to == to {
			return &c.lanes[i]
		}
	}
	c.lanes = append(c.lanes, lane{from: from, to: to})
	return &c.lanes[len(c.lanes)-1]
}
