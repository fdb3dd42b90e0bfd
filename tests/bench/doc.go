// Package bench holds the driver benchmark behind make bench-drivers. On
// loopback, in one process, it measures the path a program calls — two
// Drivers with the default configuration (Node, send queue, pump, kernel
// budget, Linux Conn) connected through the ICE checks, the sender using
// only Send or SendBatch and WaitWritable, the receiver counting OnData —
// beside (a) a naive WriteToUDPAddrPort per datagram, (b) a raw
// sendmsg+UDP_SEGMENT loop with no queue and no copy (the kernel's limit on
// the machine) and (c) wireguard-go's conn.StdNetBind, for 1200- and
// 100-byte datagrams. It also measures the gso queue with the Linux Conn
// alone (the parts-queue+conn lines: no Node, pump, budget or loop, so not
// what a program gets), receive rates with and without UDP_GRO, system
// calls and allocations per datagram.
//
// Run it from the tests module (Linux only; about 40 seconds):
//
//	go test -run '^$' -bench Drivers ./bench/
//
// The output ends with one line per size, datagrams per second delivered
// (the baselines too: what their sink received, not what they sent):
//
//	drivers-e2e size=1200 send=N batch=N wggo=N limit=N naive=N batch/wggo=R batch/limit=R send/naive=R
package bench
