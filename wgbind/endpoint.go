package wgbind

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/peerlink/peerlink/state/node"
)

// endpointPrefix starts every endpoint string, so that a UDP address given
// by mistake is refused rather than read as a connection ID.
const endpointPrefix = "peerlink:"

// EndpointString is the endpoint of connection id as wireguard-go's UAPI
// takes it ("endpoint=" + EndpointString(id)) and prints it back.
func EndpointString(id node.ConnID) string {
	return endpointPrefix + strconv.FormatUint(uint64(id), 10)
}

// parseEndpointString is EndpointString's inverse.
func parseEndpointString(s string) (node.ConnID, error) {
	rest, ok := strings.CutPrefix(s, endpointPrefix)
	if !ok {
		return 0, fmt.Errorf("wgbind: endpoint %q is not %q followed by a connection ID", s, endpointPrefix)
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("wgbind: endpoint %q: connection ID: %w", s, err)
	}
	return node.ConnID(id), nil
}

// Endpoint is one peerlink connection, as wireguard-go sees it. The Bind
// keeps one per connection ID, so the same pointer comes back for every
// datagram of the connection and from ParseEndpoint.
type Endpoint struct {
	id    node.ConnID
	str   string
	bytes [8]byte
	ip    netip.Addr
}

func newEndpoint(id node.ConnID) *Endpoint {
	e := &Endpoint{id: id, str: EndpointString(id)}
	binary.BigEndian.PutUint64(e.bytes[:], uint64(id))
	// fd70:6c6b::/64 ("pk" in a ULA prefix) plus the ID: unique per
	// connection, so that the handshake rate limiter counts each peer
	// apart, and never an address the host could route.
	var a [16]byte
	a[0], a[1], a[2], a[3] = 0xfd, 0x70, 0x6c, 0x6b
	copy(a[8:], e.bytes[:])
	e.ip = netip.AddrFrom16(a)
	return e
}

// ConnID is the connection the endpoint stands for.
func (e *Endpoint) ConnID() node.ConnID { return e.id }

// ClearSrc does nothing: the Driver picks the local address of each path.
func (e *Endpoint) ClearSrc() {}

// SrcToString is empty: the source depends on the path, which peerlink
// chooses and may change.
func (e *Endpoint) SrcToString() string { return "" }

// DstToString is EndpointString of the connection.
func (e *Endpoint) DstToString() string { return e.str }

// DstToBytes is the connection ID, big-endian: stable for the connection
// whatever its path, which WireGuard's cookie MAC requires. The slice is a
// fresh copy.
func (e *Endpoint) DstToBytes() []byte { return append([]byte(nil), e.bytes[:]...) }

// DstIP is the connection's synthetic address (see the package doc).
func (e *Endpoint) DstIP() netip.Addr { return e.ip }

// SrcIP is the zero Addr, for the reason SrcToString is empty.
func (e *Endpoint) SrcIP() netip.Addr { return netip.Addr{} }
