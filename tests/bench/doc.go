// Package bench holds the driver benchmark behind make bench-drivers: on
// loopback, in one process, it compares how many datagrams per second leave
// through (a) a naive WriteToUDPAddrPort per datagram, (b) a raw
// sendmsg+UDP_SEGMENT loop with no queue — the kernel's limit on the
// machine —, (c) peerlink's gso queue with the Linux driver and (d)
// wireguard-go's conn.StdNetBind, for 1200- and 100-byte datagrams. It also
// reports receive rates with and without UDP_GRO, system calls and
// allocations per datagram.
//
// Run it from the tests module (Linux only; about 45 seconds):
//
//	go test -run '^$' -bench Drivers ./bench/
//
// The output ends with one line per size:
//
//	drivers size=1200 naive=N limit=N peerlink=N wggo=N peerlink/limit=R peerlink/naive=R peerlink/wggo=R
package bench
