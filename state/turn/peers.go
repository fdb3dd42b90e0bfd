package turn

import (
	"github.com/peerlink/peerlink/state/timer"
	"net/netip"
	"time"
)

// peerKey names a permission (an IP with port 0: RFC 8656 permissions
// ignore the port) or a channel (the peer's address and port).
type peerKey = netip.AddrPort

func keyOf(kind txKind, peer netip.AddrPort) peerKey {
	if kind == txPermission {
		return netip.AddrPortFrom(peer.Addr().Unmap(), 0)
	}
	return peer
}

// permission is one peer IP the caller wants reachable. It is refreshed
// until the caller removes it, the server refuses it, or the relay ends.
type permission struct {
	ip netip.Addr
	// installed: the server confirmed it on the current allocation.
	installed bool
	refreshAt time.Time
	expiresAt time.Time
	// installedAt is when the request that last installed it left: the
	// latest the server can have started its lifetime.
	installedAt time.Time
	// reinstalledAt is the last Reinstall toward this IP, silentAge the
	// permission's age then (reinstall.go).
	reinstalledAt time.Time
	silentAge     time.Duration
}

// channel is one channel binding the caller wants.
type channel struct {
	peer   netip.AddrPort
	number uint16
	bound  bool
	// everBound: the number was bound at some point on this allocation,
	// so releasing it needs a cooldown.
	everBound bool
	refreshAt time.Time
	expiresAt time.Time
}

// cooldown remembers a released channel: until `until`, its number may be
// bound only to its peer and its peer only to its number.
type cooldown struct {
	peer   netip.AddrPort
	number uint16
	until  time.Time
}

// peerTable holds permissions, channels and cooldowns. Slices keep the
// order in which the caller asked, so refreshes go out in a fixed order;
// the maps are for lookup only and are never ranged over.
type peerTable struct {
	cfg      *Config
	perms    []*permission
	permByIP map[netip.Addr]*permission
	chans    []*channel
	byPeer   map[netip.AddrPort]*channel
	byNumber map[uint16]*channel
	cooling  []cooldown
	// nextNumber is where the search for a free channel number starts, so
	// numbers are used round-robin and a released one rests as long as
	// possible.
	nextNumber uint16
}

func (t *peerTable) init(cfg *Config) {
	t.cfg = cfg
	t.permByIP = map[netip.Addr]*permission{}
	t.byPeer = map[netip.AddrPort]*channel{}
	t.byNumber = map[uint16]*channel{}
	t.nextNumber = minChannel
}

// reset forgets everything (the relay ended).
func (t *peerTable) reset() {
	t.perms, t.chans, t.cooling = nil, nil, nil
	clear(t.permByIP)
	clear(t.byPeer)
	clear(t.byNumber)
}

// unconfirm marks everything as not installed: a fresh allocation starts
// without permissions, channels or cooldowns, and the client asks for all
// of them again once it is granted.
func (t *peerTable) unconfirm() {
	for _, p := range t.perms {
		p.installed = false
	}
	for _, ch := range t.chans {
		ch.bound, ch.everBound = false, false
	}
	t.cooling = nil
}

// checkPeer validates a peer address against the relay's families. Before
// an allocation exists they are the families asked for (family.go).
func (c *Client) checkPeer(peer netip.AddrPort) error {
	if !peer.IsValid() || peer.Port() == 0 {
		return ErrInvalidPeer
	}
	ip := peer.Addr().Unmap()
	if !c.familyAllowed(ip) || ip.IsUnspecified() || ip.IsMulticast() {
		return ErrInvalidPeer
	}
	return c.checkLive()
}

func (c *Client) checkLive() error {
	if c.state.Terminal() || c.state == StateReleasing {
		return ErrTerminal
	}
	return nil
}

// CreatePermission asks the server to let peer's IP send to the relayed
// address (the port is ignored, as in RFC 8656), and keeps it refreshed
// until RemovePeer. Idempotent. Before the allocation exists the request
// is remembered and sent once it is granted.
func (c *Client) CreatePermission(now time.Time, peer netip.AddrPort) error {
	c.advance(now)
	if err := c.checkPeer(peer); err != nil {
		return err
	}
	ip := peer.Addr().Unmap()
	if c.peers.permByIP[ip] != nil {
		return nil
	}
	if len(c.peers.perms) >= c.cfg.MaxPermissions {
		return ErrTooManyPeers
	}
	p := &permission{ip: ip}
	c.peers.perms = append(c.peers.perms, p)
	c.peers.permByIP[ip] = p
	if c.state == StateAllocated {
		c.startTx(request{kind: txPermission, peer: netip.AddrPortFrom(ip, 0)}, 0)
	}
	return nil
}

// BindChannel binds a channel to peer (and asks for its permission), so
// that Send produces 4-byte-header ChannelData instead of 36-byte Send
// indications. Until the server confirms (EventChannelBound) Send uses
// indications. Idempotent; a peer still cooling down gets its old number
// back, as RFC 8656 allows.
func (c *Client) BindChannel(now time.Time, peer netip.AddrPort) error {
	c.advance(now)
	if err := c.checkPeer(peer); err != nil {
		return err
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	t := &c.peers
	if t.byPeer[peer] != nil {
		return nil
	}
	if len(t.chans) >= c.cfg.MaxChannels {
		return ErrTooManyChannels
	}
	// Check the permission bound first: picking a number consumes the
	// peer's cooldown entry, which a refusal after it would lose.
	if t.permByIP[peer.Addr()] == nil && len(t.perms) >= c.cfg.MaxPermissions {
		return ErrTooManyPeers
	}
	number, err := t.pickNumber(c.now, peer)
	if err != nil {
		return err
	}
	if err := c.CreatePermission(now, peer); err != nil {
		panic("turn: permission refused after its checks passed: " + err.Error())
	}
	ch := &channel{peer: peer, number: number}
	t.chans = append(t.chans, ch)
	t.byPeer[peer] = ch
	t.byNumber[number] = ch
	if c.state == StateAllocated {
		c.startTx(request{kind: txChannel, peer: peer, channel: number}, 0)
	}
	return nil
}

// RemovePeer stops refreshing peer's channel and, when no other channel
// uses its IP, its permission; both then expire on the server. A bound
// channel's number cools down before any reuse.
func (c *Client) RemovePeer(now time.Time, peer netip.AddrPort) {
	c.advance(now)
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	t := &c.peers
	if ch := t.byPeer[peer]; ch != nil {
		c.dropChannel(ch)
	}
	for _, ch := range t.chans {
		if ch.peer.Addr() == peer.Addr() {
			return
		}
	}
	if p := t.permByIP[peer.Addr()]; p != nil {
		c.dropPermission(p)
	}
}

// pickNumber returns the number for a new channel to peer: its old number
// if it is cooling down, else the next number neither in use nor cooling.
func (t *peerTable) pickNumber(now time.Time, peer netip.AddrPort) (uint16, error) {
	t.expireCooldowns(now)
	for i, cd := range t.cooling {
		if cd.peer == peer {
			t.cooling = append(t.cooling[:i], t.cooling[i+1:]...)
			return cd.number, nil
		}
	}
	for range maxChannel - minChannel + 1 {
		n := t.nextNumber
		t.nextNumber++
		if t.nextNumber > maxChannel {
			t.nextNumber = minChannel
		}
		if t.byNumber[n] == nil && !t.coolingNumber(n) {
			return n, nil
		}
	}
	return 0, ErrChannelCooldown
}

func (t *peerTable) coolingNumber(n uint16) bool {
	for _, cd := range t.cooling {
		if cd.number == n {
			return true
		}
	}
	return false
}

func (t *peerTable) expireCooldowns(now time.Time) {
	kept := t.cooling[:0]
	for _, cd := range t.cooling {
		if cd.until.After(now) {
			kept = append(kept, cd)
		}
	}
	t.cooling = kept
}

// dropChannel forgets ch; a number that was bound cools down until the
// server's binding has expired and ChannelCooldown more has passed.
func (c *Client) dropChannel(ch *channel) {
	t := &c.peers
	if tx := c.pending(txChannel, ch.peer); tx != nil {
		c.removeTx(tx)
	}
	for i, x := range t.chans {
		if x == ch {
			t.chans = append(t.chans[:i], t.chans[i+1:]...)
			break
		}
	}
	delete(t.byPeer, ch.peer)
	delete(t.byNumber, ch.number)
	if ch.everBound {
		if len(t.cooling) >= c.cfg.MaxCooldowns {
			// Full: forget the oldest entry (counted). Its number is still
			// safe in practice, because numbers are handed out round-robin
			// over all 4096 and the oldest entry is the one closest to
			// expiry anyway.
			t.cooling = t.cooling[1:]
			c.stats.CooldownsDropped++
		}
		t.cooling = append(t.cooling, cooldown{peer: ch.peer, number: ch.number,
			until: ch.expiresAt.Add(c.cfg.ChannelCooldown)})
	}
}

func (c *Client) dropPermission(p *permission) {
	t := &c.peers
	if tx := c.pending(txPermission, netip.AddrPortFrom(p.ip, 0)); tx != nil {
		c.removeTx(tx)
	}
	for i, x := range t.perms {
		if x == p {
			t.perms = append(t.perms[:i], t.perms[i+1:]...)
			break
		}
	}
	delete(t.permByIP, p.ip)
}

// requestAll asks for every wanted permission and channel: after a fresh
// allocation nothing of them exists on the server.
func (c *Client) requestAll() {
	for _, p := range c.peers.perms {
		c.startTx(request{kind: txPermission, peer: netip.AddrPortFrom(p.ip, 0)}, 0)
	}
	for _, ch := range c.peers.chans {
		c.startTx(request{kind: txChannel, peer: ch.peer, channel: ch.number}, 0)
	}
}

// refreshDue sends the refreshes whose time has come.
func (t *peerTable) refreshDue(c *Client) {
	for _, p := range t.perms {
		if p.installed && !p.refreshAt.After(c.now) && c.pending(txPermission, netip.AddrPortFrom(p.ip, 0)) == nil {
			c.startTx(request{kind: txPermission, peer: netip.AddrPortFrom(p.ip, 0)}, 0)
		}
	}
	for _, ch := range t.chans {
		if ch.bound && !ch.refreshAt.After(c.now) && c.pending(txChannel, ch.peer) == nil {
			c.startTx(request{kind: txChannel, peer: ch.peer, channel: ch.number}, 0)
		}
	}
	t.expireCooldowns(c.now)
}

// offerDeadlines offers each refresh and cooldown expiry to next.
func (t *peerTable) offerDeadlines(c *Client, next *timer.Next) {
	for _, p := range t.perms {
		if p.installed && c.pending(txPermission, netip.AddrPortFrom(p.ip, 0)) == nil {
			next.Offer(p.refreshAt, "turn: permission-refresh")
		}
	}
	for _, ch := range t.chans {
		if ch.bound && c.pending(txChannel, ch.peer) == nil {
			next.Offer(ch.refreshAt, "turn: channel-refresh")
		}
	}
	for _, cd := range t.cooling {
		next.Offer(cd.until, "turn: channel-cooldown")
	}
}
