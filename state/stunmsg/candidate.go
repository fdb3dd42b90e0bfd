package stunmsg

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

// CandidateType is the kind of a candidate (RFC 8445 section 5.1.1).
type CandidateType uint8

const (
	// Host: an address of a local interface.
	Host CandidateType = iota
	// ServerReflexive: our address as a STUN server saw it (the NAT's
	// mapping); its base is the host address the request left from.
	ServerReflexive
	// PeerReflexive: an address learned from a connectivity check.
	PeerReflexive
	// Relay: an address allocated on a TURN server; its base is the
	// allocation itself, because that is where its packets are sent from.
	Relay
)

var typeNames = [...]string{Host: "host", ServerReflexive: "srflx", PeerReflexive: "prflx", Relay: "relay"}

func (t CandidateType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "invalid"
}

// Preference is the RFC 8445 section 5.1.2.2 recommended type preference:
// direct paths first, relays last because they cost a server hop.
func (t CandidateType) Preference() uint32 {
	switch t {
	case Host:
		return 126
	case PeerReflexive:
		return 110
	case ServerReflexive:
		return 100
	}
	return 0
}

// ComponentRTP is the only component peerlink uses: one UDP flow per
// connection, no RTCP.
const ComponentRTP = 1

// Priority is the RFC 8445 section 5.1.2.1 formula:
// 2^24*type preference + 2^8*local preference + (256 - component ID).
// localPref (0-65535) orders candidates of the same type, e.g. by interface.
func Priority(t CandidateType, localPref uint16, component int) uint32 {
	return t.Preference()<<24 | uint32(localPref)<<8 | uint32(256-component)
}

// PairPriority is the RFC 8445 section 6.1.2.3 formula, with g the
// controlling agent's candidate priority and d the controlled one's:
// 2^32*min(g,d) + 2*max(g,d) + (g>d ? 1 : 0).
func PairPriority(g, d uint32) uint64 {
	lo, hi := min(g, d), max(g, d)
	p := uint64(lo)<<32 + 2*uint64(hi)
	if g > d {
		p++
	}
	return p
}

// Candidate is a transport address that may reach an agent.
type Candidate struct {
	// Foundation groups candidates of the same type, base and server.
	Foundation string
	Component  int
	Priority   uint32
	Type       CandidateType
	// Addr is the address the peer sends to.
	Addr netip.AddrPort
	// Base is where packets for this candidate leave from: the host address
	// for host and server-reflexive candidates, the relay allocation for a
	// relay candidate. It is local knowledge and is not signalled.
	Base netip.AddrPort
	// Related is the rel-addr/rel-port of the attribute: the base for
	// reflexive candidates, the mapped address for relay ones. Zero for host.
	Related netip.AddrPort
}

// NewCandidate fills in component, priority and foundation for a local
// candidate. server is the STUN or TURN server that produced it (zero for
// host and peer-reflexive candidates).
func NewCandidate(t CandidateType, addr, base, server netip.AddrPort, localPref uint16) Candidate {
	c := Candidate{
		Component: ComponentRTP,
		Priority:  Priority(t, localPref, ComponentRTP),
		Type:      t,
		Addr:      addr,
		Base:      base,
	}
	if t != Host {
		c.Related = base
	}
	c.Foundation = Foundation(t, base.Addr(), server.Addr())
	return c
}

// Foundation derives a foundation from the RFC 8445 section 5.1.1.3 inputs
// (type, base IP, server IP; the transport is always UDP) as a short decimal
// string, the same for equal inputs in every process.
func Foundation(t CandidateType, base, server netip.Addr) string {
	h := fnv.New32a()
	h.Write([]byte{byte(t)})
	b, _ := base.MarshalBinary()
	h.Write(b)
	h.Write([]byte{0})
	s, _ := server.MarshalBinary()
	h.Write(s)
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

// Errors from ParseCandidate.
var ErrCandidate = errors.New("stunmsg: malformed candidate attribute")

// Marshal renders the candidate as an SDP `candidate:` attribute value
// (RFC 8839 section 5.1), which is what applications signal to the peer:
// candidate:<foundation> <component> udp <priority> <ip> <port> typ <type>
// [raddr <ip> rport <port>].
func (c Candidate) Marshal() string {
	var b strings.Builder
	fmt.Fprintf(&b, "candidate:%s %d udp %d %s %d typ %s",
		c.Foundation, c.Component, c.Priority, c.Addr.Addr().String(), c.Addr.Port(), c.Type)
	if c.Related.IsValid() {
		fmt.Fprintf(&b, " raddr %s rport %d", c.Related.Addr().String(), c.Related.Port())
	}
	return b.String()
}

func (c Candidate) String() string { return c.Marshal() }

// ParseCandidate parses a `candidate:` attribute value (an "a=" prefix is
// tolerated). Unknown extension attributes after the type are skipped, as
// RFC 8839 requires; TCP candidates are refused because peerlink is UDP only.
// Base is left zero: it is local knowledge of the candidate's owner.
func ParseCandidate(s string) (Candidate, error) {
	var c Candidate
	s = strings.TrimPrefix(s, "a=")
	rest, ok := strings.CutPrefix(s, "candidate:")
	if !ok {
		return c, ErrCandidate
	}
	f := strings.Fields(rest)
	if len(f) < 8 || f[6] != "typ" {
		return c, ErrCandidate
	}
	c.Foundation = f[0]
	if !validFoundation(c.Foundation) {
		return c, ErrCandidate
	}
	comp, err := strconv.ParseUint(f[1], 10, 8)
	if err != nil || comp < 1 {
		return c, ErrCandidate
	}
	c.Component = int(comp)
	if !strings.EqualFold(f[2], "udp") {
		return c, ErrCandidate
	}
	prio, err := strconv.ParseUint(f[3], 10, 32)
	if err != nil {
		return c, ErrCandidate
	}
	c.Priority = uint32(prio)
	if c.Addr, err = parseAddrPort(f[4], f[5]); err != nil {
		return c, err
	}
	switch f[7] {
	case "host":
		c.Type = Host
	case "srflx":
		c.Type = ServerReflexive
	case "prflx":
		c.Type = PeerReflexive
	case "relay":
		c.Type = Relay
	default:
		return c, ErrCandidate
	}
	return c, parseExtensions(&c, f[8:])
}

func parseExtensions(c *Candidate, f []string) error {
	if len(f)%2 != 0 {
		return ErrCandidate
	}
	var raddr, rport string
	for i := 0; i < len(f); i += 2 {
		switch f[i] {
		case "raddr":
			raddr = f[i+1]
		case "rport":
			rport = f[i+1]
		}
	}
	if raddr == "" && rport == "" {
		return nil
	}
	rel, err := parseAddrPort(raddr, rport)
	if err != nil {
		return err
	}
	c.Related = rel
	return nil
}

func parseAddrPort(ip, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, ErrCandidate
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, ErrCandidate
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
}

// validFoundation: 1 to 32 ice-chars (RFC 8839: ALPHA / DIGIT / "+" / "/").
func validFoundation(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/') {
			return false
		}
	}
	return true
}
