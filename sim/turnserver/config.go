package turnserver

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Defaults, from RFC 8656 where it names a value.
const (
	// DefaultLifetime is an allocation's lifetime unless the client asks for
	// more (RFC 8656 section 3.2 recommends 10 minutes).
	DefaultLifetime = 10 * time.Minute
	// DefaultMaxLifetime caps a requested lifetime (RFC 8656 suggests 3600 s).
	DefaultMaxLifetime = time.Hour
	// PermissionLifetime is fixed by RFC 8656 section 9: 300 s, not
	// negotiable.
	PermissionLifetime = 5 * time.Minute
	// ChannelLifetime is fixed by RFC 8656 section 12: 10 minutes.
	ChannelLifetime = 10 * time.Minute
	// DefaultNonceLifetime is how long a nonce stays valid before requests
	// carrying it get 438 Stale Nonce; RFC 8489 leaves it to the server.
	DefaultNonceLifetime = 10 * time.Minute
	// DefaultMaxAllocations bounds the allocations; beyond it Allocate gets
	// 508 Insufficient Capacity.
	DefaultMaxAllocations = 1024
	// DefaultMaxPermissions and DefaultMaxChannels bound one allocation's
	// tables; beyond them the request gets 508.
	DefaultMaxPermissions = 64
	DefaultMaxChannels    = 64
	// DefaultMaxNonces bounds the nonces remembered; the oldest is forgotten
	// first, and its holder simply gets 438 and a fresh one.
	DefaultMaxNonces = 4096
	// DefaultMaxPendingTransmits bounds the output queue between two
	// PollTransmit drains; beyond it datagrams are dropped and counted.
	DefaultMaxPendingTransmits = 4096
	// DefaultRelayPortMin and DefaultRelayPortMax are RFC 8656's
	// recommended relayed-port range (the IANA dynamic range).
	DefaultRelayPortMin = 49152
	DefaultRelayPortMax = 65535
)

// Channel numbers a client may bind (RFC 8656 section 12).
const (
	MinChannel = 0x4000
	MaxChannel = 0x4FFF
)

// Credential is one long-term username and password.
type Credential struct {
	Username, Password string
}

// Config describes a server. Realm, Users, RelayAddr and Rand are required.
type Config struct {
	Realm string
	Users []Credential
	// RelayAddr is the IP of every relayed transport address.
	RelayAddr netip.Addr
	// RelayPortMin and RelayPortMax bound the relayed ports (both zero: the
	// defaults). Ports are drawn from Rand.
	RelayPortMin, RelayPortMax uint16
	// Rand is the server's only randomness: nonces, relayed ports and the
	// transaction ids of Data indications. The simulator passes a source
	// seeded from its world.
	Rand *rand.Rand
	// PadChannelData pads outgoing ChannelData to a multiple of four bytes.
	// Over UDP padding is optional (RFC 8656 section 12.5); clients must
	// accept both, so tests run both ways.
	PadChannelData bool
	// Software, when set, is sent in every response.
	Software string
	// NoAllocationCode, when set, is the error code CreatePermission and
	// ChannelBind from a 5-tuple without an allocation get, instead of
	// RFC 8656's 437: coturn 4.6 answers them with 400 (measured in
	// tests/relay after a restart), so a client cannot tell the refusal
	// of a peer from the loss of its allocation.
	NoAllocationCode int

	// PermissionLifetime and ChannelLifetime override RFC 8656's fixed
	// 300 s and 600 s, as operators do (coturn --permission-lifetime,
	// --channel-lifetime); clients cannot learn them. Zero: the RFC's.
	PermissionLifetime time.Duration
	ChannelLifetime    time.Duration

	DefaultLifetime     time.Duration
	MaxLifetime         time.Duration
	NonceLifetime       time.Duration
	MaxAllocations      int
	MaxPermissions      int
	MaxChannels         int
	MaxNonces           int
	MaxPendingTransmits int
}

// Configuration errors from New.
var (
	ErrNoRealm     = errors.New("turnserver: Config.Realm is empty")
	ErrNoUsers     = errors.New("turnserver: Config.Users is empty")
	ErrNoRelayAddr = errors.New("turnserver: Config.RelayAddr is invalid")
	ErrNoRand      = errors.New("turnserver: Config.Rand is nil")
	ErrPortRange   = errors.New("turnserver: relay port range is empty")
)

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Realm == "":
		return c, ErrNoRealm
	case len(c.Users) == 0:
		return c, ErrNoUsers
	case !c.RelayAddr.IsValid():
		return c, ErrNoRelayAddr
	case c.Rand == nil:
		return c, ErrNoRand
	}
	if c.RelayPortMin == 0 && c.RelayPortMax == 0 {
		c.RelayPortMin, c.RelayPortMax = DefaultRelayPortMin, DefaultRelayPortMax
	}
	if c.RelayPortMin == 0 || c.RelayPortMin > c.RelayPortMax {
		return c, ErrPortRange
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setInt := func(n *int, def int) {
		if *n <= 0 {
			*n = def
		}
	}
	setDur(&c.PermissionLifetime, PermissionLifetime)
	setDur(&c.ChannelLifetime, ChannelLifetime)
	setDur(&c.DefaultLifetime, DefaultLifetime)
	setDur(&c.MaxLifetime, DefaultMaxLifetime)
	setDur(&c.NonceLifetime, DefaultNonceLifetime)
	setInt(&c.MaxAllocations, DefaultMaxAllocations)
	setInt(&c.MaxPermissions, DefaultMaxPermissions)
	setInt(&c.MaxChannels, DefaultMaxChannels)
	setInt(&c.MaxNonces, DefaultMaxNonces)
	setInt(&c.MaxPendingTransmits, DefaultMaxPendingTransmits)
	return c, nil
}
