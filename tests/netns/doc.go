// Package netns holds measurements that need a real network device between
// two hosts: two Linux network namespaces joined by a veth pair, with a
// rate-limiting qdisc on the sender's side so that the kernel, not the test,
// decides when datagrams leave.
//
// The roaming tests (roam_linux_test.go) put a Linux NAT (nftables
// masquerade) in a third namespace, and flush its conntrack table or
// renumber its uplink under a running connection.
//
// The tests need root, ip and tc (iproute2), and nft for the NAT. Without
// them they skip, unless the environment variable CI is "true", where they
// fail instead. -short skips them. Run them from the tests module:
//
//	go test -v -run KernelBudget ./netns/
package netns
