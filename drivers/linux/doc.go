// Package linux is peerlink's Conn for Linux: one UDP socket driven with
// sendmmsg and recvmmsg, segmentation offload on send (UDP_SEGMENT) and
// coalescing on receive (UDP_GRO), the source address of each send and the
// destination of each receive through IP_PKTINFO/IPV6_PKTINFO, and ECN both
// ways through IP_TOS/IPV6_TCLASS.
//
// The Conn implements pump.Conn. Send never blocks: when the socket buffer is
// full it returns pump.ErrWouldBlock with the datagrams the kernel took, and
// the caller parks in WaitWritable before trying again. Recv blocks in the Go
// netpoller until a datagram arrives or the Conn is closed.
//
// How Send reports kernel errors, so the caller knows what to do with its
// queue (the returned count is always the datagrams to Advance by):
//
//   - EAGAIN: pump.ErrWouldBlock; nothing after the count was taken.
//   - EIO, EINVAL or EMSGSIZE on a segmented message: the Conn resends the
//     same segments one datagram per message, so nothing is lost and no
//     error is returned when that works (the kernel fragments a datagram
//     above the MTU unless path-MTU discovery forbids it). EINVAL and
//     EMSGSIZE are about the batch (a segment above the MTU; kernels before
//     6.11 said EINVAL) and leave segmentation on. EIO says the device
//     cannot segment: after it has happened three times, segmentation is
//     turned off for the socket and Config.OnGSODisabled is called once
//     (IPsec routes also answer EIO, and one such peer should not cost the
//     others their offload at once).
//   - EMSGSIZE on a single datagram (path-MTU discovery set to "do"): an
//     error matching ErrMessageTooLarge. The failing batch is the first one
//     not covered by the count; the pump drops it and counts it, so the
//     queue moves on.
//   - ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: the message is retried once
//     (a refused error is often a stale ICMP report about an earlier
//     datagram, and reading it clears it); if it fails again the rest of that
//     batch is skipped, counted in Stats and included in the count so the
//     queue moves on. No error is returned.
//   - anything else: returned, wrapped, with the count taken before it; the
//     pump drops the batch it failed on (counted) rather than retry a
//     refusal the kernel would repeat for ever.
//
// Receive buffers handed to Recv should be at least RecvBufferSize bytes:
// with UDP_GRO the kernel coalesces up to 64 KiB into one buffer, and a
// shorter buffer truncates it (counted and dropped). The control-message
// space lives inside the Conn.
package linux
