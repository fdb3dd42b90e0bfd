package node_test

import (
	"fmt"

	"github.com/peerlink/peerlink/state/node"
)

// A candidate travels over signalling as the text of an SDP attribute:
// Marshal on the side that gathered it, ParseCandidate on the peer's.
func ExampleParseCandidate() {
	c, err := node.ParseCandidate("candidate:1 1 udp 2130706431 192.0.2.7 51820 typ host")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Type, c.Addr)
	fmt.Println(c.Marshal())
	// Output:
	// host 192.0.2.7:51820
	// candidate:1 1 udp 2130706431 192.0.2.7 51820 typ host
}
