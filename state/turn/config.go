package turn

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Identity says which relay a client talks to, from where, as whom, and
// with which random source: what differs from one relay to the next, while
// Config holds the timers and bounds that one program gives all of them.
type Identity struct {
	// Server is the TURN server's address: UDP, or TCP when Transport is a
	// stream.
	Server netip.AddrPort
	// Transport is how the client reaches Server; the zero value is UDP
	// (transport.go).
	Transport Transport
	// Local is the local socket address transmits leave from (Transmit.Src).
	Local netip.AddrPort
	// Alternate, when valid, is the same server at another address
	// (typically its IPv6 one beside an IPv4 Server), reached from
	// AlternateLocal: the first Binding goes to both, and the first to
	// answer is the one the client keeps (race.go).
	Alternate, AlternateLocal netip.AddrPort
	// Username and Password are the long-term credentials (RFC 8489 9.2).
	Username, Password string
	// Family is the relayed address families Allocate asks for: part of
	// which relay this is, not a timer. Default FamilyDefault, the
	// server's choice (IPv4 by RFC 8656): FamilyDual adds an IPv6 relayed
	// address where the server has one (family.go).
	Family Family
	// Rand draws every transaction ID. Drivers seed it from crypto/rand, the
	// simulator from its seed. Required: the client never makes its own.
	Rand *rand.Rand
}

// Validate reports an identity a client cannot work with.
func (id Identity) Validate() error {
	switch {
	case id.Rand == nil:
		return fmt.Errorf("%w: Rand is required", ErrConfig)
	case !id.Server.IsValid() || id.Server.Port() == 0:
		return fmt.Errorf("%w: Server is not a valid address", ErrConfig)
	case !id.Local.IsValid():
		return fmt.Errorf("%w: Local is not a valid address", ErrConfig)
	case id.Alternate.IsValid() && (id.Alternate.Port() == 0 || !id.AlternateLocal.IsValid() || id.Alternate == id.Server):
		return fmt.Errorf("%w: Alternate needs a port, an AlternateLocal, and to differ from Server", ErrConfig)
	case id.Family > FamilyDual:
		return fmt.Errorf("%w: unknown Family", ErrConfig)
	case !id.Transport.Valid():
		return fmt.Errorf("%w: unknown Transport", ErrConfig)
	case id.Alternate.IsValid() && id.Transport.Stream():
		// The driver dials one stream per relay; racing two addresses is
		// for datagrams.
		return fmt.Errorf("%w: Alternate is for relays over UDP", ErrConfig)
	}
	return nil
}

// Config holds every timer and bound of a client. A zero duration or count
// means "use the default"; DefaultConfig shows the defaults, and each field
// says why it has its value.
type Config struct {
	// Lifetime is the allocation LIFETIME requested. Default 600 s, RFC
	// 8656's default; the server may grant less, and the client follows
	// what it grants.
	Lifetime time.Duration
	// RefreshAfter caps the time between allocation refreshes. The client
	// refreshes after half the granted lifetime or after RefreshAfter,
	// whichever is sooner. Default 5 min: half of the default lifetime, so
	// a refresh whose whole retransmission schedule fails still leaves
	// minutes to notice and re-allocate.
	RefreshAfter time.Duration
	// PermissionLifetime is how long the server keeps a permission. Default
	// 300 s, fixed by RFC 8656 section 9; servers do not announce it.
	PermissionLifetime time.Duration
	// PermissionRefreshAfter is the period of CreatePermission refreshes.
	// Default 240 s: one minute of margin holds three full request
	// schedules (RequestTimeout), so a lost refresh is retried in time.
	PermissionRefreshAfter time.Duration
	// ChannelLifetime is how long the server keeps a channel binding.
	// Default 600 s, fixed by RFC 8656 section 12.
	ChannelLifetime time.Duration
	// ChannelRefreshAfter is the period of ChannelBind refreshes. Default
	// 300 s: half the lifetime, like the allocation.
	ChannelRefreshAfter time.Duration
	// ChannelCooldown keeps an expired channel's number from another peer,
	// and its peer from another number. Default 5 min, RFC 8656 section
	// 12: the server may still deliver old frames for that long.
	ChannelCooldown time.Duration
	// KeepaliveInterval is the period of Binding requests while allocated.
	// Default 25 s: below the 30 s of the shortest common NAT UDP mapping
	// timeouts, so the mapping toward the relay (the allocation's 5-tuple)
	// never expires between refreshes; the answers also prove the server
	// alive and show a changed server-reflexive address.
	KeepaliveInterval time.Duration
	// VerifyInterval is the least time between two verifications of the
	// allocation (Client.Verify: a Refresh sent at once because a path
	// through it went silent). Default 5 s: a restarted server is found
	// within a round trip of the first lost probe, while a lossy path that
	// loses a probe every second costs the server at most one Refresh
	// every 5 s. Each verification that finds the allocation alive doubles
	// the wait, up to 80 s (verify.go); one that finds it gone resets it.
	VerifyInterval time.Duration

	// RequestRTO is the first retransmission timeout of every request.
	// Default 500 ms, the lower bound RFC 8489 section 6.2.1 allows: a relay
	// is usually a few tens of milliseconds away and a quick retry finds a
	// lost packet fast.
	RequestRTO time.Duration
	// RequestRTOMax caps the doubling of the RTO. Default 4 s.
	RequestRTOMax time.Duration
	// RequestTransmits is how many times one request is sent; it fails one
	// (capped) RTO after its last send. Default 7 (RFC 8489's Rc): sends at
	// 0, 0.5, 1.5, 3.5, 7.5, 11.5 and 15.5 s and failure at 19.5 s, so a dead
	// relay is declared lost within RequestTimeout() of its last answer
	// being due, while a few seconds of loss never are.
	RequestTransmits int

	// MaxPermissions bounds the peer IPs with a permission. Default 64.
	MaxPermissions int
	// MaxChannels bounds live channel bindings. Default 64.
	MaxChannels int
	// MaxCooldowns bounds the channels remembered while cooling down; when
	// full, BindChannel to a new peer is refused until one expires.
	// Default 256.
	MaxCooldowns int
	// MaxRetries bounds consecutive 438 (Stale Nonce) retries of one request
	// and consecutive re-allocations without a successful one. Default 3:
	// a server legitimately asks once; three in a row is a loop.
	MaxRetries int
	// MaxQueued bounds queued transmits and queued events each; beyond it
	// the oldest is dropped and counted (the caller is not polling).
	// Default 256.
	MaxQueued int
	// MaxPayload is the largest application payload Send accepts for this
	// server: servers drop what they cannot carry without a word, so the
	// client refuses it instead (ErrPayloadTooLarge). Default
	// DefaultMaxPayload; at most MaxMaxPayload.
	MaxPayload int
}

// DefaultMaxPayload is the default Config.MaxPayload, the most every
// common server carries. Measured over loopback by
// tests/turn/maxpayload_test.go (largest payload carried; IPv4 peer):
//
//	                   Send ind.  Data ind.  ChannelData out  ChannelData in
//	pion/turn v4.1.4      1552       1600          1595             1600
//	coturn 4.6.1         16340      16380         16380            16380
//
// pion reads every datagram into a 1600-byte buffer, coturn into about
// 16 KiB; each drops what does not fit without a word. An IPv6 peer
// costs a Send indication 12 bytes more. 1500 fits every figure with room
// to spare, and is what an Ethernet path carries anyway, so a program sized
// for one never meets the limit. A relay known to carry more is configured
// per relay (node.WithMaxPayload).
const DefaultMaxPayload = 1500

// MaxMaxPayload is the most Config.MaxPayload may be: the ChannelData
// length field's range.
const MaxMaxPayload = 0xFFFF

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Lifetime:               600 * time.Second,
		RefreshAfter:           5 * time.Minute,
		PermissionLifetime:     300 * time.Second,
		PermissionRefreshAfter: 240 * time.Second,
		ChannelLifetime:        600 * time.Second,
		ChannelRefreshAfter:    300 * time.Second,
		ChannelCooldown:        5 * time.Minute,
		KeepaliveInterval:      25 * time.Second,
		VerifyInterval:         5 * time.Second,
		RequestRTO:             500 * time.Millisecond,
		RequestRTOMax:          4 * time.Second,
		RequestTransmits:       7,
		MaxPermissions:         64,
		MaxChannels:            64,
		MaxCooldowns:           256,
		MaxRetries:             3,
		MaxQueued:              256,
		MaxPayload:             DefaultMaxPayload,
	}
}

// WithDefaults returns c with every zero timer and bound set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.Lifetime, &d.Lifetime}, {&c.RefreshAfter, &d.RefreshAfter},
		{&c.PermissionLifetime, &d.PermissionLifetime}, {&c.PermissionRefreshAfter, &d.PermissionRefreshAfter},
		{&c.ChannelLifetime, &d.ChannelLifetime}, {&c.ChannelRefreshAfter, &d.ChannelRefreshAfter},
		{&c.ChannelCooldown, &d.ChannelCooldown}, {&c.KeepaliveInterval, &d.KeepaliveInterval},
		{&c.VerifyInterval, &d.VerifyInterval},
		{&c.RequestRTO, &d.RequestRTO}, {&c.RequestRTOMax, &d.RequestRTOMax},
	} {
		if *p.v == 0 {
			*p.v = *p.def
		}
	}
	for _, p := range []struct{ v, def *int }{
		{&c.RequestTransmits, &d.RequestTransmits}, {&c.MaxPermissions, &d.MaxPermissions},
		{&c.MaxChannels, &d.MaxChannels}, {&c.MaxCooldowns, &d.MaxCooldowns},
		{&c.MaxRetries, &d.MaxRetries}, {&c.MaxQueued, &d.MaxQueued},
		{&c.MaxPayload, &d.MaxPayload},
	} {
		if *p.v == 0 {
			*p.v = *p.def
		}
	}
	return c
}

// Validate reports a configuration that cannot work. Call it on the result
// of WithDefaults.
func (c Config) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrConfig, why) }
	switch {
	case c.Lifetime < time.Second || c.Lifetime > 0xFFFFFFFF*time.Second:
		return bad("Lifetime must be between 1 s and 2^32-1 s")
	case c.RefreshAfter <= 0 || c.PermissionRefreshAfter <= 0 || c.ChannelRefreshAfter <= 0 || c.KeepaliveInterval <= 0 ||
		c.VerifyInterval <= 0:
		return bad("refresh and keepalive periods must be positive")
	case c.PermissionRefreshAfter >= c.PermissionLifetime:
		return bad("PermissionRefreshAfter must be shorter than PermissionLifetime")
	case c.ChannelRefreshAfter >= c.ChannelLifetime:
		return bad("ChannelRefreshAfter must be shorter than ChannelLifetime")
	case c.ChannelCooldown < 0:
		return bad("negative ChannelCooldown")
	case c.RequestRTO <= 0 || c.RequestRTOMax < c.RequestRTO:
		return bad("RequestRTOMax must be at least RequestRTO > 0")
	case c.RequestTransmits < 1:
		return bad("RequestTransmits below 1")
	case c.MaxPermissions < 1 || c.MaxChannels < 0 || c.MaxChannels > maxChannel-minChannel+1 || c.MaxCooldowns < 0:
		return bad("permission, channel or cooldown bound out of range")
	case c.MaxRetries < 1 || c.MaxQueued < 1:
		return bad("MaxRetries and MaxQueued must be positive")
	case c.MaxPayload < 1 || c.MaxPayload > MaxMaxPayload:
		return bad("MaxPayload must be between 1 and 65535")
	}
	return nil
}

// RequestTimeout is how long one request is retransmitted before it fails:
// the sum of its RTOs, the last one being the wait after the final send.
// A relay that stops answering is declared lost within this long of the
// first unanswered request.
func (c Config) RequestTimeout() time.Duration {
	var total time.Duration
	rto := c.RequestRTO
	for i := 0; i < c.RequestTransmits; i++ {
		total += rto
		rto = min(2*rto, c.RequestRTOMax)
	}
	return total
}

// LostWithin bounds how long after a server dies the client reports
// EventLost{LostTimeout}: the next request (a keepalive at the latest)
// goes out within KeepaliveInterval and fails RequestTimeout later.
func (c Config) LostWithin() time.Duration {
	return c.KeepaliveInterval + c.RequestTimeout()
}
