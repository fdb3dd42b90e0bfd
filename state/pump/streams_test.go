package pump

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

func TestARelayOverTCPsTransmitsGoToPollStreamNeverToTheSocket(t *testing.T) {
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
	tr, ok := p.PollStream()
	if !ok || tr.Dst != server || tr.Src != local || tr.Transport != node.TCP || tr.Class != gso.Control || len(tr.Payload) == 0 {
		t.Fatalf("stream transmit %+v %v", tr, ok)
	}
	if _, ok := p.PollStream(); ok {
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
		if _, ok := p.PollStream(); !ok {
			t.Fatal("queued transmit missing")
		}
	}
	if !send(gso.Data) {
		t.Fatal("data refused after the driver drained")
	}
}

func TestAFullStreamHoldsBackOnlyItsOwnTransmitsInTheirOrder(t *testing.T) {
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := New(n, &fakeConn{}, Config{StreamBytes: 1 << 20})
	stuck := netip.MustParseAddrPort("192.0.2.1:3478")
	open := netip.MustParseAddrPort("192.0.2.2:3478")
	put := func(server netip.AddrPort, class gso.Class, tag byte) {
		if _, ok := p.toStream(node.Transmit{Src: local, Dst: server, Payload: []byte{tag}, Class: class, Transport: node.TCP}); !ok {
			t.Fatal("refused under the bound")
		}
	}
	put(stuck, gso.Data, 1)
	put(open, gso.Data, 2)
	put(stuck, gso.Control, 3)
	put(open, gso.Control, 4)
	put(stuck, gso.Data, 5)
	put(open, gso.Data, 6)
	var wrote []byte
	full := true
	write := func(tr node.Transmit) bool {
		if tr.Dst == stuck && full {
			return false
		}
		wrote = append(wrote, tr.Payload[0])
		return true
	}
	if n := p.FlushStreams(write); n != 3 || string(wrote) != "\x04\x02\x06" {
		t.Fatalf("took %d, wrote %v: the open stream's transmits, Control first", n, wrote)
	}
	full, wrote = false, nil
	if n := p.FlushStreams(write); n != 3 || string(wrote) != "\x03\x01\x05" {
		t.Fatalf("took %d, wrote %v: the stuck stream's, in order, once it had room", n, wrote)
	}
	if p.streams.bytes != 0 {
		t.Fatalf("outbox holds %d bytes after everything left", p.streams.bytes)
	}
}

func TestAnOutboxNeverEmptiedDoesNotGrowWithEveryTransmitItHeld(t *testing.T) {
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := New(n, &fakeConn{}, Config{StreamBytes: 1 << 20})
	server := netip.MustParseAddrPort("192.0.2.1:3478")
	tr := node.Transmit{Src: local, Dst: server, Payload: make([]byte, 100), Class: gso.Data, Transport: node.TCP}
	p.toStream(tr)
	for range 100_000 {
		// Always one behind: the FIFO is never empty.
		p.toStream(tr)
		if _, ok := p.PollStream(); !ok {
			t.Fatal("transmit missing")
		}
	}
	if c := cap(p.streams.fifo[1].out); c > 1024 {
		t.Fatalf("the FIFO's slice grew to %d slots for one transmit waiting", c)
	}
}

func TestWritableWaitsOnlyForThePlaceThatRefused(t *testing.T) {
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	p := New(n, &fakeConn{}, Config{StreamBytes: 3000})
	server := netip.MustParseAddrPort("192.0.2.1:3478")
	// A stuck stream fills the outbox: StreamWritable is false for good.
	for range 3 {
		p.toStream(node.Transmit{Src: local, Dst: server, Payload: make([]byte, 1000), Class: gso.Data, Transport: node.TCP})
	}
	if p.StreamWritable() {
		t.Fatal("a full outbox writable")
	}
	// The queue refuses Data, then drains.
	p.refuseData()
	if !p.DataWritable() {
		t.Fatal("the empty queue is not writable")
	}
	if !p.Writable() {
		t.Fatal("a program refused by the queue waits on a stream it never used")
	}
	// Now the stream outbox refuses: the wait is for it.
	if _, ok := p.toStream(node.Transmit{Src: local, Dst: server, Payload: make([]byte, 1000), Class: gso.Data, Transport: node.TCP}); ok {
		t.Fatal("data past the outbox's bound taken")
	}
	if p.Writable() {
		t.Fatal("writable while the outbox that refused is full")
	}
	p.PollStream()
	p.PollStream()
	if !p.Writable() {
		t.Fatal("not writable once the outbox drained")
	}
}
