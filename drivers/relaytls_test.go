package drivers

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
)

// The TLS a relay's stream dials with is the one AddRelayConfig set when
// the Node accepted the relay: a refused AddRelayConfig leaves it alone,
// RemoveRelay's release can still dial with it, and AddRelay brings back
// the defaults.
func TestARelaysTLSConfigIsTheOneItWasAddedWith(t *testing.T) {
	refuse := func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no network in this test")
	}
	d, err := New(&heldConn{closed: make(chan struct{})}, Config{Logger: slog.New(slog.DiscardHandler), Dial: refuse})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	local := netip.MustParseAddrPort("192.0.2.1:1000")
	if err := d.AddLocalAddress(ctx, local); err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("198.51.100.7:5349")
	relay := func(name string) Relay {
		return Relay{Server: server, Transport: node.TLS, Local: local, Username: "u", Password: "p",
			TLS: RelayTLS{ServerName: name}}
	}
	name := func() string { return d.streams.tlsFor(server).ServerName }
	if err := d.AddRelayConfig(ctx, relay("relay.example")); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "relay.example" {
		t.Fatalf("server name %q after AddRelayConfig", got)
	}
	if err := d.AddRelayConfig(ctx, relay("other.example")); !errors.Is(err, node.ErrRelayExists) {
		t.Fatalf("second AddRelayConfig: %v", err)
	}
	if got := name(); got != "relay.example" {
		t.Fatalf("a refused AddRelayConfig changed the server name to %q", got)
	}
	// The release after RemoveRelay goes over the stream, which may dial
	// again: the configuration stays for it.
	if err := d.RemoveRelay(ctx, server); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "relay.example" {
		t.Fatalf("server name %q after RemoveRelay, while the release may still dial", got)
	}
	// Added again with AddRelay: the defaults, not the earlier choice.
	removed := false
	for tries := 0; !removed; tries++ {
		if tries == 1000 {
			t.Fatal("the removed relay never went")
		}
		if err := d.AddRelay(ctx, server, local, "u", "p", node.WithTransport(node.TLS)); err == nil {
			removed = true
		} else if !errors.Is(err, node.ErrRelayExists) {
			t.Fatal(err)
		} else {
			time.Sleep(10 * time.Millisecond) // the release is still closing
		}
	}
	if got := name(); got != server.Addr().String() {
		t.Fatalf("server name %q after AddRelay, want the defaults' %s", got, server.Addr())
	}
}
