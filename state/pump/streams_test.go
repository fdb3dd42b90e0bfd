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
