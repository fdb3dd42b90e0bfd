package linux

import "sync/atomic"

// Stats are the Conn's counters since it was created. Every field only grows.
type Stats struct {
	// SendCalls is the number of sendmmsg system calls, successful or not.
	SendCalls uint64
	// SentMessages is the number of messages the kernel took; a segmented
	// message counts once.
	SentMessages uint64
	// SentDatagrams is the number of datagrams (segments) the kernel took.
	SentDatagrams uint64
	// GSOMessages is how many taken messages carried more than one segment.
	GSOMessages uint64
	// GSOFallbacks counts segmented sends the kernel rejected with EIO or
	// EINVAL and that were resent one datagram at a time.
	GSOFallbacks uint64

	// RecvCalls is the number of recvmmsg system calls that returned data.
	RecvCalls uint64
	// RecvMessages is the number of buffers handed to the caller.
	RecvMessages uint64
	// RecvDatagrams counts datagrams inside those buffers (a coalesced buffer
	// holds several).
	RecvDatagrams uint64
	// GROMessages is how many delivered buffers held more than one datagram.
	GROMessages uint64
	// Truncated counts datagrams dropped because the caller's buffer was too
	// short (MSG_TRUNC); ControlTruncated those dropped because their
	// control messages did not fit (MSG_CTRUNC), which would lose the
	// segment size of a coalesced buffer.
	Truncated        uint64
	ControlTruncated uint64

	// Errors by kind, one per failing system call.
	WouldBlock  uint64 // EAGAIN on send
	TooLarge    uint64 // EMSGSIZE
	Unreachable uint64 // ECONNREFUSED, EHOSTUNREACH, ENETUNREACH
	// SkippedDatagrams were reported as taken after an unreachable error
	// repeated, so the queue could move on; they never left.
	SkippedDatagrams uint64
	OtherErrors      uint64
}

// counters is Stats kept with atomics, so Stats may be read from any
// goroutine while Send and Recv run.
type counters struct {
	sendCalls, sentMessages, sentDatagrams, gsoMessages, gsoFallbacks atomic.Uint64
	recvCalls, recvMessages, recvDatagrams, groMessages               atomic.Uint64
	truncated, controlTruncated                                       atomic.Uint64
	wouldBlock, tooLarge, unreachable, skipped, other                 atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		SendCalls:        c.sendCalls.Load(),
		SentMessages:     c.sentMessages.Load(),
		SentDatagrams:    c.sentDatagrams.Load(),
		GSOMessages:      c.gsoMessages.Load(),
		GSOFallbacks:     c.gsoFallbacks.Load(),
		RecvCalls:        c.recvCalls.Load(),
		RecvMessages:     c.recvMessages.Load(),
		RecvDatagrams:    c.recvDatagrams.Load(),
		GROMessages:      c.groMessages.Load(),
		Truncated:        c.truncated.Load(),
		ControlTruncated: c.controlTruncated.Load(),
		WouldBlock:       c.wouldBlock.Load(),
		TooLarge:         c.tooLarge.Load(),
		Unreachable:      c.unreachable.Load(),
		SkippedDatagrams: c.skipped.Load(),
		OtherErrors:      c.other.Load(),
	}
}
