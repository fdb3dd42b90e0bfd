// Package netns holds measurements that need a real network device between
// two hosts: two Linux network namespaces joined by a veth pair, with a
// rate-limiting qdisc on the sender's side so that the kernel, not the test,
// decides when datagrams leave.
//
// The tests need root, ip and tc (iproute2). Without them they skip, unless
// the environment variable CI is "true", where they fail instead. -short
// skips them. Run them from the tests module:
//
//	go test -v -run KernelBudget ./netns/
package netns
