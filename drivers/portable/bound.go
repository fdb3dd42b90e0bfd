package portable

import "github.com/peerlink/peerlink/state/pump"

// Config adjusts a Conn. The zero value is what New uses.
type Config struct {
	// SendBufferBytes sizes the socket's send buffer (SO_SNDBUF). Zero
	// means the default, negative leaves the OS default everywhere. The
	// default depends on the OS. Where it cannot count unsent bytes
	// (UnsentCounter reports "") the send buffer is the only bound on the
	// kernel queue a probe waits behind, so it is sized like the pump's
	// kernel budget (pump.Config.KernelDataBudget) plus four full-MTU
	// datagrams: kernels charge each datagram's bookkeeping against the
	// buffer too, and a buffer barely the budget's size would stall a
	// sender that still has room under the budget. Where it can, the OS
	// default (0 here): the pump's kernel budget bounds the queue and a
	// larger buffer costs nothing.
	SendBufferBytes int
}

// DefaultConfig returns the defaults documented on Config, for this OS.
func DefaultConfig() Config { return defaultConfig(unsentCounter != "") }

// defaultConfig is DefaultConfig on an OS that can count unsent bytes
// (counter) or cannot.
func defaultConfig(counter bool) Config {
	if counter {
		return Config{}
	}
	return Config{SendBufferBytes: pump.DefaultConfig().KernelDataBudget + 4*1500}
}

// Bound says what bounds the kernel queue of a Conn's socket.
type Bound struct {
	// Counter names the call UnsentBytes makes ("SIOCOUTQ", "SO_NWRITE",
	// "FIONWRITE"); "" where the OS has none and UnsentBytes is absent,
	// so the pump's kernel budget cannot apply.
	Counter string
	// SendBufferRequested is the SO_SNDBUF the Conn asked for; 0 if it
	// asked for none.
	SendBufferRequested int
	// SendBufferGranted is SO_SNDBUF as the kernel reports it afterwards
	// (Linux doubles a request for its own bookkeeping and clamps it to
	// net.core.wmem_max); -1 where it cannot be read.
	SendBufferGranted int
	// Err is why setting or reading the send buffer failed, if it did.
	Err error
}

// UnsentCounter names the call that counts a socket's unsent bytes on
// this OS, or "" where there is none.
func UnsentCounter() string { return unsentCounter }

// sendBufferRequest is the SO_SNDBUF to ask for under cfg, 0 for none;
// counter says the OS can count unsent bytes.
func sendBufferRequest(cfg Config, counter bool) int {
	switch {
	case cfg.SendBufferBytes > 0:
		return cfg.SendBufferBytes
	case cfg.SendBufferBytes < 0:
		return 0
	}
	return defaultConfig(counter).SendBufferBytes
}
