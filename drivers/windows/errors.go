package windows

import "errors"

// ErrMessageTooLarge matches (errors.Is) the error Send returns when Winsock
// refused a datagram as too large (WSAEMSGSIZE). The batch that failed is
// the first one the returned count does not cover.
var ErrMessageTooLarge = errors.New("windows: datagram too large")
