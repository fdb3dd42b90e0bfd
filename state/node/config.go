package node

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/turn"
)

// Config configures a Node. Zero fields take the defaults DefaultConfig
// shows; each field says why it has its value.
type Config struct {
	// Rand is the only source of randomness: credentials, tie-breakers,
	// transaction IDs. Required. Drivers seed it from crypto/rand, the
	// simulator from its seed, tests from a constant.
	Rand *rand.Rand
	// ICE holds the per-connection timers (see ice.Config for each default
	// and its reason).
	ICE ice.Config
	// StunServers are asked for our server-reflexive address. One server per
	// address family is enough: every server sees the same mapping of an
	// endpoint-independent NAT, and for other NATs a srflx candidate does
	// not help anyway; servers after the first of a family are ignored.
	StunServers []netip.AddrPort
	// StunRTO is the first retransmission timeout toward a STUN server.
	// Default 500 ms, RFC 8489's recommended initial RTO.
	StunRTO time.Duration
	// StunTransmits is how often one STUN request is sent before giving up,
	// doubling the RTO each time. Default 7 (RFC 8489's Rc), which gives up
	// after 0.5+1+2+4+8+16+32 s = 63.5 s.
	StunTransmits int
	// StunRefresh is how long after a STUN server answered (or a request
	// to it gave up) the request is sent again, to learn a changed
	// mapping: a NAT that rebound, a new public address. One request per
	// local address and family each time, about 60 bytes on the wire.
	// Default 25 s: the interval of the idle probes, so a NAT that rebinds
	// while a connection sleeps shows its new mapping no later than the
	// connection notices; and often enough to keep the server's mapping
	// alive in NATs that expire bindings after 30 s.
	StunRefresh time.Duration
	// PendingMax bounds the datagrams buffered per connection while it is
	// connecting, or recovering a path whose relay candidate went away.
	// Default 16: enough for the first packets of a handshake (a WireGuard
	// initiation and its retries) without holding a burst that would be
	// stale by the time the path exists. Beyond it, Sends are dropped,
	// refused with ErrPendingFull and counted in Stats.PendingDropped.
	PendingMax int
	// MaxLocalAddresses bounds AddLocalAddress. Default 16: every
	// interface of a host in both families, with room to spare; each
	// address costs a host candidate per connection and a STUN request per
	// StunRefresh.
	MaxLocalAddresses int
	// MaxConns bounds the connections a Node holds at once (failed ones
	// count until Close); Connect for a new ID beyond it returns
	// ErrTooManyConns. Default 4096: every connection costs an agent (a few
	// KB with its pairs) and a probe every ice.Config.ProbeInterval while
	// active, so a
	// runaway caller is stopped long before it exhausts memory or the
	// socket, while a large gateway still fits.
	MaxConns int
	// MaxLateness is how far after the Node's earliest deadline an input
	// may come before the Node treats the gap as a pause of its clock (a
	// suspended machine, a stopped process, a clock stepped forward): time
	// inside then resumes at that deadline, the jump is counted in
	// Stats.ClockJumps, and every timer that was due fires once, in
	// order, instead of all the retransmissions and probes the gap would
	// have held. Default 200 ms: far above the wake-up latency of a
	// real-time loop (well under 1 ms), and short enough that a stall is
	// not mistaken for network silence.
	MaxLateness time.Duration
	// Relay holds the timers and bounds of every relay's TURN client (see
	// turn.Config for each default and its reason); AddRelay gives each
	// client its identity (server, local address, credentials, Rand).
	Relay turn.Config
	// MaxRelays bounds AddRelay. Default 4: each connection uses one relay,
	// so more relays only spread connections and survive a relay's loss;
	// every relay costs an allocation, refreshes and a keepalive every
	// turn.Config.KeepaliveInterval.
	MaxRelays int
	// RelayRetry is how long after a relay is lost (RelayFailed) the
	// Node starts it again with a fresh allocation, doubled after each
	// loss in a row up to RelayRetryMax and reset once an allocation is
	// granted. Every loss is retried, whatever its reason (refused
	// credentials, LostAuth, included: an operator may fix them), for as
	// long as the relay stays, until RemoveRelay. Default 1 s: a server
	// that restarted or deleted a stale allocation late is back within
	// seconds, while a dead one costs a Binding schedule every
	// RelayRetryMax. Negative: a lost relay is removed for good, and the
	// application may AddRelay again.
	RelayRetry time.Duration
	// RelayRetryMax caps the wait between attempts, the first one
	// included: a RelayRetry above it waits RelayRetryMax. Default 60 s: a
	// dead server costs one Binding schedule a minute, and one back from a
	// long outage is in use again within a minute.
	RelayRetryMax time.Duration
}

// DefaultConfig returns the defaults documented on Config, those of ice
// and turn included. Rand stays nil: the caller must seed one.
func DefaultConfig() Config {
	return Config{
		ICE:               ice.DefaultConfig(),
		StunRTO:           500 * time.Millisecond,
		StunTransmits:     7,
		StunRefresh:       25 * time.Second,
		PendingMax:        16,
		MaxLocalAddresses: 16,
		MaxConns:          4096,
		MaxLateness:       200 * time.Millisecond,
		Relay:             turn.DefaultConfig(),
		MaxRelays:         4,
		RelayRetry:        time.Second,
		RelayRetryMax:     60 * time.Second,
	}
}

// withDefaults returns c with every zero field set to its default (the
// relay's timers are set by turn.New).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.ICE = c.ICE.WithDefaults()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&c.StunRTO, d.StunRTO)
	setInt(&c.StunTransmits, d.StunTransmits)
	setDur(&c.StunRefresh, d.StunRefresh)
	setInt(&c.PendingMax, d.PendingMax)
	setInt(&c.MaxLocalAddresses, d.MaxLocalAddresses)
	setInt(&c.MaxRelays, d.MaxRelays)
	setInt(&c.MaxConns, d.MaxConns)
	setDur(&c.MaxLateness, d.MaxLateness)
	setDur(&c.RelayRetry, d.RelayRetry)
	setDur(&c.RelayRetryMax, d.RelayRetryMax)
	return c
}

func (c Config) validate() error {
	if c.Rand == nil {
		return fmt.Errorf("%w: Rand is required", ErrConfig)
	}
	if c.StunRTO < 0 || c.StunTransmits < 0 || c.StunRefresh < 0 || c.PendingMax < 0 || c.MaxLocalAddresses < 0 || c.MaxRelays < 0 ||
		c.MaxConns < 0 || c.MaxLateness < 0 || c.RelayRetryMax < 0 {
		return fmt.Errorf("%w: negative value", ErrConfig)
	}
	if err := c.ICE.Validate(); err != nil {
		return err
	}
	for _, s := range c.StunServers {
		if !s.IsValid() || s.Port() == 0 {
			return fmt.Errorf("%w: STUN server %v", ErrConfig, s)
		}
	}
	return nil
}
