//go:build !linux && !darwin && !freebsd

package portable

// No call counts a socket's unsent bytes here: Conn has no UnsentBytes, and
// New bounds the kernel queue with the send buffer instead.
const unsentCounter = ""

type unsent struct{}

func (*unsent) init() {}
