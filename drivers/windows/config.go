package windows

import "github.com/peerlink/peerlink/state/pump"

// Config tunes a Conn. The zero value uses USO where the stack offers it and
// leaves URO off.
type Config struct {
	// DisableUSO sends one datagram per call.
	DisableUSO bool
	// EnableURO lets the stack coalesce received datagrams. Off by default:
	// it has been unreliable in the field.
	EnableURO bool
	// OnUSODisabled, when set, is called once, from Send, when the stack
	// rejected a segmented send and the Conn switched to one datagram per
	// call; meant for one log line.
	OnUSODisabled func(err error)
}

const (
	// maxSegments is the most datagrams one send carries, as on Linux.
	maxSegments = 64
	// RecvBufferSize is the buffer each received Message should provide.
	RecvBufferSize = pump.DefaultRecvBufferSize
)
