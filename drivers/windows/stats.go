package windows

import "sync/atomic"

// Stats are the Conn's counters since it was created.
type Stats struct {
	SendCalls        uint64 // WSASendMsg calls, successful or not
	SentDatagrams    uint64 // datagrams the stack took
	USOMessages      uint64 // sends that carried more than one datagram
	USOFallbacks     uint64 // segmented sends rejected and resent singly
	RecvCalls        uint64 // WSARecvMsg calls that returned data
	RecvDatagrams    uint64 // datagrams delivered, coalesced ones counted each
	UROMessages      uint64 // delivered buffers holding several datagrams
	Truncated        uint64 // datagrams dropped for a short buffer
	ControlTruncated uint64 // datagrams dropped because their metadata was cut
	TooLarge         uint64 // WSAEMSGSIZE on send
	Unreachable      uint64 // WSAENETUNREACH, WSAEHOSTUNREACH, WSAECONNRESET
	SkippedDatagrams uint64 // reported taken after repeated unreachable errors
	OtherErrors      uint64
}

type counters struct {
	sendCalls, sentDatagrams, usoMessages, usoFallbacks atomic.Uint64
	recvCalls, recvDatagrams, uroMessages               atomic.Uint64
	truncated, controlTruncated                         atomic.Uint64
	tooLarge, unreachable, skipped, other               atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		SendCalls:        c.sendCalls.Load(),
		SentDatagrams:    c.sentDatagrams.Load(),
		USOMessages:      c.usoMessages.Load(),
		USOFallbacks:     c.usoFallbacks.Load(),
		RecvCalls:        c.recvCalls.Load(),
		RecvDatagrams:    c.recvDatagrams.Load(),
		UROMessages:      c.uroMessages.Load(),
		Truncated:        c.truncated.Load(),
		ControlTruncated: c.controlTruncated.Load(),
		TooLarge:         c.tooLarge.Load(),
		Unreachable:      c.unreachable.Load(),
		SkippedDatagrams: c.skipped.Load(),
		OtherErrors:      c.other.Load(),
	}
}
