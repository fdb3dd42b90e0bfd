package pump

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

func TestARelayOverTCPsTransmitsGoToTheStreamsNeverToTheSocket(t *testing.T) {
	c := &fakeConn{room: 100}
	p := newTestPump(t, c, 0)
	server := netip.MustParseAddrPort("192.0.2.9:3478")
	if err := p.Node().AddRelay(t0, server, local, "u", "p", node.WithTransport(node.TCP)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Flush(t0); err != nil {
		t.Fatal(err)
	}
	if len(c.sent) != 0 {
		t.Fatalf("the socket got %d datagrams for a TCP relay", len(c.sent))
	}
	tr, ok := takeStream(p)
	if !ok || tr.Dst != server || tr.Src != local || tr.Transport != node.TCP || tr.Class != gso.Control || len(tr.Payload) == 0 {
		t.Fatalf("stream transmit %+v %v", tr, ok)
	}
	if _, ok := takeStream(p); ok {
		t.Fatal("a second transmit before any input")
	}
	if p.Stats().StreamTransmits != 1 {
		t.Fatalf("stats %+v", p.Stats())
	}
}

func TestStreamDataPastTheBoundIsRefusedAsBackPressureAndControlStillGoes(t *testing.T) {
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := New(n, &fakeConn{}, Config{StreamBytes: 3000})
	server := netip.MustParseAddrPort("192.0.2.9:3478")
	send := func(class gso.Class) bool {
		_, ok := p.toStream(node.Transmit{Src: local, Dst: server, Payload: make([]byte, 1000), Class: class, Transport: node.TLS})
		return ok
	}
	for i := range 3 {
		if !send(gso.Data) {
			t.Fatalf("data %d refused under the bound", i)
		}
	}
	if send(gso.Data) {
		t.Fatal("data past the bound taken")
	}
	if !send(gso.Control) {
		t.Fatal("control refused beside full data")
	}
	if st := p.Stats(); st.StreamDataRefused != 1 || st.DataRefused != 1 || p.refusals != 1 {
		t.Fatalf("stats %+v refusals %d", st, p.refusals)
	}
	for range 4 {
		if _, ok := takeStream(p); !ok {
			t.Fatal("queued transmit missing")
		}
	}
	if !send(gso.Data) {
		t.Fatal("data refused after the driver drained")
	}
}

// newStreamPump is a pump with a stream bound of bound bytes, and put
// admits a transmit of n bytes, the first one tag, for server.
func newStreamPump(t *testing.T, bound int) (*Pump, func(server netip.AddrPort, class gso.Class, tag byte, n int) bool) {
	t.Helper()
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := New(n, &fakeConn{}, Config{StreamBytes: bound})
	put := func(server netip.AddrPort, class gso.Class, tag byte, size int) bool {
		b := make([]byte, size)
		b[0] = tag
		_, ok := p.toStream(node.Transmit{Src: local, Dst: server, Payload: b, Class: class, Transport: node.TCP})
		return ok
	}
	return p, put
}

var (
	stuckServer = netip.MustParseAddrPort("192.0.2.1:3478")
	openServer  = netip.MustParseAddrPort("192.0.2.2:3478")
)

func TestAFullStreamHoldsBackOnlyItsOwnTransmitsInTheirOrder(t *testing.T) {
	p, put := newStreamPump(t, 1<<20)
	put(stuckServer, gso.Data, 1, 500)
	put(openServer, gso.Data, 2, 1)
	put(stuckServer, gso.Control, 3, 500)
	put(openServer, gso.Control, 4, 1)
	put(stuckServer, gso.Data, 5, 1)
	put(openServer, gso.Data, 6, 1)
	var wrote []byte
	// The stuck stream has room for small transmits only: a later, smaller
	// one must still not overtake the big one it refused.
	roomy := false
	write := func(tr node.Transmit) bool {
		if tr.Dst == stuckServer && len(tr.Payload) > 1 && !roomy {
			return false
		}
		wrote = append(wrote, tr.Payload[0])
		return true
	}
	if n := p.FlushStreams(write); n != 3 || string(wrote) != "\x04\x02\x06" {
		t.Fatalf("took %d, wrote %v: the open stream's transmits, Control first, and none of the stuck one's", n, wrote)
	}
	roomy, wrote = true, nil
	if n := p.FlushStreams(write); n != 0 {
		t.Fatalf("a flush with nothing new took %d", n)
	}
	p.StreamRoom()
	if n := p.FlushStreams(write); n != 3 || string(wrote) != "\x03\x01\x05" {
		t.Fatalf("took %d, wrote %v: the stuck stream's, in order, once it had room", n, wrote)
	}
	if p.streams.bytes != 0 || len(p.streams.per) != 0 {
		t.Fatalf("outbox holds %d bytes, %d streams after everything left", p.streams.bytes, len(p.streams.per))
	}
}

// A flush walks what a stuck stream holds only when something changed:
// the walk would otherwise run on every step for as long as it is stuck.
func TestAFlushTriesAStuckStreamAgainOnlyAfterAChange(t *testing.T) {
	p, put := newStreamPump(t, 1<<20)
	for range 100 {
		put(stuckServer, gso.Data, 1, 100)
	}
	calls := 0
	refuse := func(node.Transmit) bool { calls++; return false }
	p.FlushStreams(refuse)
	p.FlushStreams(refuse)
	p.FlushStreams(refuse)
	if calls != 1 {
		t.Fatalf("%d writes tried for one refusal and no change", calls)
	}
	put(openServer, gso.Data, 2, 100)
	p.FlushStreams(refuse)
	if calls != 3 {
		t.Fatalf("%d writes tried: an admitted transmit tries each stream once", calls)
	}
}

// Each stream has its own bound: one that takes nothing refuses its own
// Data, not another relay's.
func TestAStuckStreamRefusesOnlyItsOwnData(t *testing.T) {
	_, put := newStreamPump(t, 3000)
	for i := range 3 {
		if !put(stuckServer, gso.Data, 1, 1000) {
			t.Fatalf("data %d refused under the bound", i)
		}
	}
	if put(stuckServer, gso.Data, 1, 1000) {
		t.Fatal("data past the stuck stream's bound taken")
	}
	if !put(openServer, gso.Data, 2, 1000) {
		t.Fatal("another relay's data refused for the stuck stream's backlog")
	}
}

func TestWritableWaitsOnlyForThePlaceThatRefused(t *testing.T) {
	p, put := newStreamPump(t, 3000)
	// A stuck stream fills and refuses Data the Node made on its own,
	// while no program waits.
	for range 4 {
		put(stuckServer, gso.Data, 1, 1000)
	}
	if p.StreamWritable() {
		t.Fatal("the stream that refused is writable while full")
	}
	// A program sends; the driver forgets refusals nobody waits on, and
	// the queue refuses the program's Data, then drains.
	p.ForgetRefusals()
	p.refuseData()
	if !p.DataWritable() {
		t.Fatal("the empty queue is not writable")
	}
	if !p.Writable() {
		t.Fatal("a program refused by the queue waits on a stream it never used")
	}
	// Now the stuck stream refuses the program's Data: the wait is for it.
	if put(stuckServer, gso.Data, 1, 1000) {
		t.Fatal("data past the stream's bound taken")
	}
	if p.Writable() {
		t.Fatal("writable while the stream that refused is full")
	}
	takeStream(p)
	takeStream(p)
	if !p.Writable() {
		t.Fatal("not writable once the stream drained to half its bound")
	}
}

// When the Node gives up a relay, the Data its stream held is dead (the
// connections on it moved or failed): it is dropped and counted, and a
// writer refused for it is no longer held by a stream nobody can reach.
func TestARelayThatFailedTakesItsStreamsDataWithIt(t *testing.T) {
	c := &fakeConn{room: 100}
	p := newTestPump(t, c, 0)
	if err := p.Node().AddRelay(t0, stuckServer, local, "u", "p", node.WithTransport(node.TCP)); err != nil {
		t.Fatal(err)
	}
	p.Step(t0, func(node.Event) {})
	// Data of a relayed connection waits behind the stream, past its
	// bound: the stream refused some.
	data := node.Transmit{Src: local, Dst: stuckServer, Payload: make([]byte, 1000), Class: gso.Data, Transport: node.TCP}
	other := data
	other.Dst = openServer
	p.toStream(other)
	held := uint64(0)
	for {
		if _, ok := p.toStream(data); !ok {
			break
		}
		held++
	}
	if p.Writable() {
		t.Fatal("writable while the stuck stream is full")
	}
	// The server never answers: the Node gives the relay up.
	failed := false
	for now := t0; !failed && now.Before(t0.Add(5*time.Minute)); now = now.Add(100 * time.Millisecond) {
		p.HandleTimeout(now)
		p.Step(now, func(e node.Event) {
			if f, ok := e.(node.RelayFailed); ok && f.Server == stuckServer {
				failed = true
			}
		})
	}
	if !failed {
		t.Fatal("the relay never failed")
	}
	if st := p.Stats(); st.StreamDataDropped != held {
		t.Fatalf("dropped %d of the %d held: stats %+v", st.StreamDataDropped, held, st)
	}
	for _, l := range p.streams.per {
		if l.key.server == stuckServer && l.refused {
			t.Fatal("the failed relay's refusal stayed")
		}
	}
	if !p.Writable() {
		t.Fatal("a writer refused for the failed relay still waits")
	}
	// The other relay's Data stays, and nothing of the failed one's.
	var dataLeft []netip.AddrPort
	for _, tr := range p.streams.fifo[classIndex(gso.Data)] {
		dataLeft = append(dataLeft, tr.Dst)
	}
	if len(dataLeft) != 1 || dataLeft[0] != openServer {
		t.Fatalf("data left in the outbox for %v, want the other relay's only", dataLeft)
	}
}

// A payload larger than a stream's bound still goes when the stream holds
// nothing: refusing it would refuse it for ever, and wake its writer at
// once to be refused again.
func TestAnEmptyStreamTakesAPayloadPastItsBound(t *testing.T) {
	_, put := newStreamPump(t, 1000)
	if !put(stuckServer, gso.Data, 1, 5000) {
		t.Fatal("an empty stream refused a payload past its bound")
	}
	if put(stuckServer, gso.Data, 1, 1) {
		t.Fatal("a stream past its bound took more")
	}
}

// takeStream takes the outbox's next transmit, as a driver with one
// stream that takes one at a time would.
func takeStream(p *Pump) (node.Transmit, bool) {
	var got node.Transmit
	ok := false
	p.StreamRoom()
	p.FlushStreams(func(t node.Transmit) bool {
		if ok {
			return false
		}
		got, ok = t, true
		return true
	})
	return got, ok
}
