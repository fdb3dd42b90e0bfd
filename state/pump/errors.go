package pump

import "errors"

// ErrWouldBlock is returned by Conn.Send when the socket's send buffer is full.
// It is not a failure: the unsent batches stay queued and the driver waits
// for the socket to become writable.
var ErrWouldBlock = errors.New("pump: would block")
