package drivers

// Log field names. They are part of the API: dashboards and jq filters
// match on them, so they only ever gain members (see the table in the
// package documentation).
const (
	KeyConn   = "conn"   // connection ID, a number
	KeyEvent  = "event"  // event name: connected, path-changed, failed, relay-lost, ...
	KeyPath   = "path"   // "host 10.0.0.1:4000 -> srflx 198.51.100.2:5000"
	KeyReason = "reason" // why: a FailReason, a relay's LostReason, a stop cause
	KeyRelay  = "relay"  // a relay's server address
	KeyCode   = "code"   // a STUN error code, 0 if none
	KeyErr    = "err"    // an error's text
	KeyDetail = "detail" // an event's full text, for events without fields of their own
)
