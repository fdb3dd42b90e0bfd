package turn

// Transport is how the client reaches its TURN server (RFC 8656 section
// 3.1). The relayed transport, between the server and peers, is UDP in
// every case: only the leg from us to the server changes. A Transmit names
// its Transport so that the driver sends it on the right socket or stream;
// the client itself never dials anything.
type Transport uint8

const (
	// UDP: every message is one datagram to Config.Server from
	// Config.Local. The zero value.
	UDP Transport = iota
	// TCP: messages go back to back on one TCP connection to
	// Config.Server, which the driver dials, owns and re-dials; ChannelData
	// is padded to a multiple of 4 bytes so the receiver can find the next
	// message (RFC 8656 section 12.5).
	TCP
	// TLS: as TCP, inside TLS; the driver chooses the TLS configuration
	// with the application (server name, roots, pins).
	TLS
)

var transportNames = [...]string{UDP: "udp", TCP: "tcp", TLS: "tls"}

func (t Transport) String() string {
	if int(t) < len(transportNames) {
		return transportNames[t]
	}
	return "invalid"
}

// Stream reports whether messages travel on a byte stream (TCP, TLS), where
// framing and padding matter and the server sees the stream's address,
// not the UDP socket's.
func (t Transport) Stream() bool { return t == TCP || t == TLS }

// Valid reports whether t is one of the transports above.
func (t Transport) Valid() bool { return t <= TLS }
