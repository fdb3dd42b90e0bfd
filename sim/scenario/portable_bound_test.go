package scenario

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/state/pump"
)

// portableSendBuffer mirrors the SO_SNDBUF the portable driver asks for
// where the OS cannot count unsent bytes (portable.DefaultConfig there; the
// simulator may not import a driver).
var portableSendBuffer = pump.DefaultConfig().KernelDataBudget + 4*1500

// portableKernelBound is how the portable driver bounds its kernel queue
// on some OS.
type portableKernelBound uint8

const (
	noBound       portableKernelBound = iota // the OS default buffer, no budget
	unsentCounter                            // SIOCOUTQ, SO_NWRITE, FIONWRITE: the pump's budget
	smallSndbuf                              // SO_SNDBUF sized to portableSendBuffer
)

func (b portableKernelBound) String() string {
	return [...]string{"none", "unsent-counter", "small-sndbuf"}[b]
}

// slowUplinkPortable is alice saturating a slow uplink through the
// portable driver: one datagram per send (no GSO), and the driver's kernel
// queue bound.
func slowUplinkPortable(seed uint64, rate int64, b portableKernelBound) Spec {
	access := netmodel.LinkConfig{Latency: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, RateBitsPerSecond: 50_000_000}
	slow := access
	slow.RateBitsPerSecond = rate
	s := Spec{
		Name:  "slow-uplink-portable-" + b.String(),
		Seed:  seed,
		Peers: twoPeers(eiNAT),
		Loads: []LoadSpec{{Kind: Saturating, From: 0, Size: 1200, Start: 2 * time.Second}},
		End:   62 * time.Second,
	}
	s.Peers[0].Link.Up = slow
	for i := range s.Peers {
		s.Peers[i].NAT = nil              // public hosts: a direct path without a relay
		s.Peers[i].Socket.MaxSegments = 1 // the portable driver's Caps
	}
	switch b {
	case unsentCounter:
		s.KernelDataBudget = pump.DefaultConfig().KernelDataBudget
	case smallSndbuf:
		s.Peers[0].Socket.SendBufferBytes = portableSendBuffer
	}
	return s
}

// Each bound the portable driver can have keeps a probe's wait behind a
// saturating sender within ControlDelayBound, which is derived from the
// world's configuration (link rate, send buffer, budget); without one the
// probe waits behind the whole default send buffer, several times longer.
func TestThePortableDriversKernelBoundsKeepProbesPromptOnASlowUplink(t *testing.T) {
	const rate = 200_000
	var unbounded time.Duration
	for _, b := range []portableKernelBound{noBound, unsentCounter, smallSndbuf} {
		spec := slowUplinkPortable(1, rate, b)
		res, err := Run(spec)
		if err != nil {
			t.Fatal(err)
		}
		p := res.Peers[0]
		t.Logf("%d kbit/s, bound %-14s probe delay p50 %6.0f ms  max %6.0f ms  bound %6.0f ms  false failures %d",
			rate/1000, b, ms(Percentile(p.ControlDelays, 50)), ms(p.ControlDelayMax), ms(p.ControlDelayBound), res.FalseFailures)
		if p.ReceivedBytes == 0 && res.Peers[1].ReceivedBytes == 0 {
			t.Fatalf("%s: no data crossed", b)
		}
		if b == noBound {
			unbounded = p.ControlDelayMax
			continue
		}
		if p.OverBound != 0 || p.ControlDelayMax > p.ControlDelayBound || res.FalseFailures != 0 {
			t.Errorf("%s: probe delay max %v, bound %v, %d over it, %d false failures",
				b, p.ControlDelayMax, p.ControlDelayBound, p.OverBound, res.FalseFailures)
		}
		if 4*p.ControlDelayBound > unbounded {
			t.Errorf("%s: bound %v is not well below the %v a probe waits without one", b, p.ControlDelayBound, unbounded)
		}
	}
}
