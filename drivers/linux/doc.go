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
//   - EIO, or EINVAL on a segmented send the Conn built within the kernel's
//     limits: the NIC or kernel cannot segment. The Conn resends the same
//     segments one datagram per message; if that works it turns segmentation
//     off for the socket for good, counts a fallback and calls
//     Config.OnGSODisabled once. Nothing is lost and no error is returned.
//   - EMSGSIZE: an error matching ErrMessageTooLarge. The failing batch is the
//     first one not covered by the count; the caller decides (drop it, or
//     lower its datagram size for path-MTU discovery).
//   - ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: the message is retried once
//     (a refused error is often a stale ICMP report about an earlier
//     datagram, and reading it clears it); if it fails again the rest of that
//     batch is skipped, counted in Stats and included in the count so the
//     queue moves on. No error is returned.
//   - anything else: returned, wrapped, with the count taken before it.
//
// Receive buffers handed to Recv should be at least RecvBufferSize bytes:
// with UDP_GRO the kernel coalesces up to 64 KiB into one buffer, and a
// shorter buffer truncates it (counted and dropped). The control-message
// space lives inside the Conn.
package linux
