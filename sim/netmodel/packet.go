package netmodel

import (
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/state/gso"
)

// Header bytes a UDP datagram carries on the wire besides its payload: they
// count toward the MTU and toward serialization time.
const (
	HeaderBytesIPv4 = 20 + 8
	HeaderBytesIPv6 = 40 + 8
)

// Drop reasons, as they appear in the trace and in counters.
const (
	DropQueueFull       = "queue_full"       // a link's bottleneck buffer was full
	DropMTU             = "mtu"              // the IP packet was larger than the link's MTU
	DropLoss            = "loss"             // random loss
	DropBurstLoss       = "burst_loss"       // Gilbert–Elliott loss
	DropLinkDown        = "link_down"        // the link was cut
	DropPartition       = "partition"        // a network partition rule blocked the flow
	DropNoRoute         = "no_route"         // no host or NAT owns the destination address
	DropNATNoMapping    = "nat_no_mapping"   // inbound to a NAT port with no live binding
	DropNATFiltered     = "nat_filtered"     // the binding exists but its filter refused the sender
	DropNATTableFull    = "nat_table_full"   // the NAT hit MaxBindings
	DropNATNoPorts      = "nat_no_ports"     // the NAT found no free external port
	DropPortUnreachable = "port_unreachable" // no socket bound to the destination port
	DropRecvBufferFull  = "rcvbuf_full"      // the socket's receive buffer was full
)

// Packet is one datagram in flight. Payload is owned by the network once
// sent and never changed; a duplicate shares it.
type Packet struct {
	ID       uint64 // unique per original datagram; a duplicate keeps it
	Src, Dst netip.AddrPort
	Payload  []byte
	ECN      gso.ECN
	SentAt   time.Time // when the sending socket accepted it
	owner    *Socket   // whose send buffer the packet is charged to until serialized
}

// WireBytes is the size of the IP packet: payload plus IP and UDP headers.
func (p *Packet) WireBytes() int {
	if p.Dst.Addr().Unmap().Is4() {
		return len(p.Payload) + HeaderBytesIPv4
	}
	return len(p.Payload) + HeaderBytesIPv6
}
