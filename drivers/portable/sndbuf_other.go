//go:build !unix && !windows

package portable

import "errors"

// readSendBuffer: no getsockopt here (plan9, js, wasip1).
func readSendBuffer(uintptr) (int, error) {
	return 0, errors.New("portable: the send buffer cannot be read on this OS")
}
