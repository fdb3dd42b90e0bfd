package scenario

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/signal"
	"github.com/peerlink/peerlink/sim/traffic"
	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/node"
)

// Spec is everything a run depends on: the same Spec gives the same run,
// byte for byte. Property tests generate Specs; named scenarios are Specs
// with a story.
type Spec struct {
	Name string
	Seed uint64
	// Policy orders each host's gso queue.
	Policy gso.Policy
	// KernelDataBudget is the pump's kernel queue budget in bytes (0: off).
	KernelDataBudget int
	// DataQueueDelay is the pump's delay bound on queued Data
	// (pump.Config.DataQueueDelay: 0 its default, negative off).
	DataQueueDelay time.Duration
	// ICE sets the Nodes' timers; zero fields take ice's defaults.
	ICE ice.Config
	// Peers are the two ends of the connection; peer 0 is controlling.
	Peers [2]PeerSpec
	// Relay puts a TURN relay host in the world; both Nodes allocate on it
	// (AddRelay), which gives them server-reflexive and relayed candidates.
	Relay  bool
	Signal signal.Config
	Loads  []LoadSpec
	// CutAt, when positive, cuts both access links of peer CutPeer at that
	// time since the epoch: every path between the peers is gone.
	CutAt   time.Duration
	CutPeer int
	// RelayRestartAt, when positive, restarts the relay's TURN server at
	// that time since the epoch (relay.Relay.Restart): every allocation is
	// forgotten, and the connections through it must move to new ones.
	RelayRestartAt time.Duration
	// Changes are changes of the peers' networks during the run (roam.go).
	Changes []NetChange
	// FarRelay, when positive, puts a second relay in the world whose
	// link adds that one-way latency; both Nodes add it before the near
	// one, and each connection should prefer the near one by its round
	// trip (node's relay choice).
	FarRelay time.Duration
	// RelayTransport is how both Nodes reach the near relay: UDP (the
	// zero value), or TCP or TLS over a modelled stream (sim/relay's
	// Stream: in order, no loss, the relayed leg still UDP).
	RelayTransport node.Transport
	// End is how long the world runs.
	End time.Duration
	// Restart, when positive, makes the application start the connection
	// over this long after a Failed (see host.SessionConfig).
	Restart time.Duration
	// Bucket is the resolution of the time series; 0 means one second.
	Bucket time.Duration
}

// PeerSpec is one peer's machine.
type PeerSpec struct {
	Name string
	// NAT, when non-nil, puts the peer behind a NAT of its own.
	NAT    *netmodel.NATConfig
	Link   netmodel.HostConfig
	Socket netmodel.SocketConfig
}

// LoadKind is a traffic pattern.
type LoadKind uint8

const (
	// Constant sends one payload every Interval.
	Constant LoadKind = iota + 1
	// Bursts sends Burst payloads back to back every Interval.
	Bursts
	// Saturating offers payloads as fast as the host takes them, honouring
	// back-pressure (gso.ErrQueueFull, then OnWritable).
	Saturating
)

func (k LoadKind) String() string {
	switch k {
	case Constant:
		return "constant"
	case Bursts:
		return "bursts"
	case Saturating:
		return "saturating"
	}
	return "invalid"
}

// MinPayload is the smallest load payload: the traffic stamp, one byte
// naming the load and one naming the sender's path at the time of the send
// (see PeerResult.Late), so the receiver checks each load's order on its
// own and within each path.
const MinPayload = traffic.HeaderBytes + 2

// Offsets of the load and path tags after the stamp.
const (
	loadTag = traffic.HeaderBytes
	pathTag = traffic.HeaderBytes + 1
)

// LoadSpec is one application traffic source on the connection.
type LoadSpec struct {
	Kind     LoadKind
	From     int // the sending peer, 0 or 1
	Size     int // payload bytes, at least MinPayload
	Interval time.Duration
	Burst    int
	// Start is when the source begins offering, since the epoch; it sends
	// only while its side is connected.
	Start time.Duration
}

// Spec bounds: a generated Spec beyond them is a mistake, not a world.
const (
	MaxLoads      = 16
	MaxEnd        = 24 * time.Hour
	maxPayload    = gso.MaxBytesIPv4
	minInterval   = time.Microsecond
	defaultBucket = time.Second
	// maxBuckets bounds the time series; a longer run gets wider buckets.
	maxBuckets = 1 << 14
)

// ErrSpec reports an unusable Spec.
var ErrSpec = errors.New("scenario: invalid spec")

// Validate reports why a Spec cannot run.
func (s *Spec) Validate() error {
	switch {
	case s.End <= 0 || s.End > MaxEnd:
		return fmt.Errorf("%w: End %v", ErrSpec, s.End)
	case len(s.Loads) > MaxLoads:
		return fmt.Errorf("%w: %d loads", ErrSpec, len(s.Loads))
	case s.CutPeer != 0 && s.CutPeer != 1:
		return fmt.Errorf("%w: CutPeer %d", ErrSpec, s.CutPeer)
	case s.RelayRestartAt < 0 || s.RelayRestartAt > 0 && !s.Relay:
		return fmt.Errorf("%w: RelayRestartAt %v needs a Relay", ErrSpec, s.RelayRestartAt)
	case !s.RelayTransport.Valid() || s.RelayTransport != node.UDP && !s.Relay:
		return fmt.Errorf("%w: RelayTransport %v needs a Relay", ErrSpec, s.RelayTransport)
	case s.FarRelay < 0 || s.FarRelay > 0 && !s.Relay:
		return fmt.Errorf("%w: FarRelay %v needs a Relay", ErrSpec, s.FarRelay)
	}
	for i, l := range s.Loads {
		switch {
		case l.Kind < Constant || l.Kind > Saturating:
			return fmt.Errorf("%w: load %d kind %d", ErrSpec, i, l.Kind)
		case l.From != 0 && l.From != 1:
			return fmt.Errorf("%w: load %d from %d", ErrSpec, i, l.From)
		case l.Size < MinPayload || l.Size > maxPayload:
			return fmt.Errorf("%w: load %d size %d", ErrSpec, i, l.Size)
		case l.Kind != Saturating && l.Interval < minInterval:
			return fmt.Errorf("%w: load %d interval %v", ErrSpec, i, l.Interval)
		case l.Kind == Bursts && l.Burst < 1:
			return fmt.Errorf("%w: load %d burst %d", ErrSpec, i, l.Burst)
		}
	}
	if err := s.validateChanges(); err != nil {
		return err
	}
	return s.ICE.WithDefaults().Validate()
}

// MinDataDatagram is the smallest application datagram peer i sends (a
// MaxControlBytes when it sends none).
func (s *Spec) MinDataDatagram(i int) int {
	m := MaxControlBytes
	for _, l := range s.Loads {
		if l.From == i {
			m = min(m, l.Size)
		}
	}
	return m
}
