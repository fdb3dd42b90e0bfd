// Package pair holds what the tests that connect two Drivers share.
package pair

import (
	"context"
	"testing"

	"github.com/peerlink/peerlink/drivers"
	"github.com/peerlink/peerlink/state/node"
)

// Connect gives a (controlling) and b (controlled) the connection id, each
// with fresh credentials and the other's. Start the signalling only after
// it returns: a candidate that reached b before b's Connect would be
// refused (node.ErrUnknownConn), and a relay candidate lost so leaves the
// relay without a permission for the peer, which then never connects.
func Connect(t testing.TB, ctx context.Context, a, b *drivers.Driver, id node.ConnID) {
	t.Helper()
	ca, err := drivers.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	cb, err := drivers.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Connect(ctx, id, node.Controlling, ca, cb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Connect(ctx, id, node.Controlled, cb, ca); err != nil {
		t.Fatal(err)
	}
}
