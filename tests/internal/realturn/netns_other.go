//go:build !linux

package realturn

import (
	"errors"
	"net"
	"net/netip"
)

// ListenUDPIn opens a UDP socket on addr; network namespaces exist only on
// Linux, so any other ns is an error.
func ListenUDPIn(ns string, addr netip.AddrPort) (*net.UDPConn, error) {
	if ns != "" {
		return nil, errors.New("realturn: network namespaces need Linux")
	}
	return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
}
