package turn_test

import (
	"time"

	"github.com/peerlink/peerlink/tests/internal/realturn"
)

// shortLifetime is the server-side lifetime of channels and permissions
// (and the largest allocation lifetime) in the refresh scenario, short
// enough for three refresh cycles to fit in seconds.
const shortLifetime = 5 * time.Second

// coturnConfig makes nonces go stale every 5 s, so that the refresh
// scenario meets stale nonces as well as refreshes.
func coturnConfig() realturn.CoturnConfig {
	return realturn.CoturnConfig{StaleNonce: 5 * time.Second}
}
