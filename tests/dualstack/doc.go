// Package dualstack connects peerlink Nodes through real TURN servers over
// IPv6, in network namespaces: a dual-stack peer (IPv4 and IPv6 on its
// link), a peer with IPv6 alone, and the relay's namespace between them,
// which forwards nothing, so the peers meet only through the relay.
// Addresses come from the ULA prefix fd00::/8 and 10.0.0.0/8.
package dualstack
