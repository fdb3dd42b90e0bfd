//go:build linux

package dualstack

import (
	"context"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/stunmsg"
)

// TestADualStackPeerAndAnIPv6OnlyPeerConnectDirectlyOverIPv6: with the
// relay's namespace forwarding IPv6, and host candidates signalled, the
// two peers meet on their IPv6 host addresses: a's IPv4 host candidate
// pairs with nothing of b's, and a's dual-stack socket sends IPv6 from
// its IPv6 address. No relay is involved.
func TestADualStackPeerAndAnIPv6OnlyPeerConnectDirectlyOverIPv6(t *testing.T) {
	w := newWorld(t)
	run(t, "ip", "netns", "exec", w.R, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	signalHosts = true
	defer func() { signalHosts = false }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peers := startPeers(t, ctx, w)
	out := connectAdded(t, ctx, peers, 10*time.Second)
	report(t, "direct", out)
	if !out.connected {
		t.Fatal("not connected")
	}
	for i, p := range out.paths {
		if p.Local.Type != stunmsg.Host || p.Remote.Type == stunmsg.Relay || family(p.Local.Addr) != "v6" || family(p.Remote.Addr) != "v6" {
			t.Fatalf("peer %d connected on %v, want IPv6 host to IPv6 host", i, p)
		}
	}
	exchange(t, ctx, peers, 200)
}
