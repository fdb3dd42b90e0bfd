package linux

import "errors"

// ErrMessageTooLarge matches (errors.Is) the error Send returns when the
// kernel refused a datagram as larger than the path allows (EMSGSIZE). The
// batch that failed is the first one the returned count does not cover.
var ErrMessageTooLarge = errors.New("linux: datagram larger than the path MTU")

// ErrShortBuffer is returned by Recv when a message has no buffer to fill.
var ErrShortBuffer = errors.New("linux: empty receive buffer")
