package node

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// sendBatchThrough sends payloads from side from with SendBatch, putting
// each emitted transmit in flight as drain does, with emit refusing from
// the refuseAt-th call on. It returns what SendBatch returned.
func (h *pairHarness) sendBatchThrough(from int, payloads [][]byte, refuseAt int) (int, error) {
	calls := 0
	p, _ := h.nodes[from].Path(connID)
	emit := func(tx Transmit) bool {
		if p.ThroughOurRelay() && tx.Dst != relayAddr {
			// The harness's network would deliver it from the relayed
			// address anyway; a real one would not.
			h.t.Errorf("on a relayed path a transmit went to %v, not the relay", tx.Dst)
		}
		calls++
		if calls > refuseAt {
			return false
		}
		if tx.Class != gso.Data {
			panic(fmt.Sprintf("SendBatch emitted %v", tx.Class))
		}
		h.sent[from][tx.Class]++
		h.checkWrapped(from, tx)
		h.flight = append(h.flight, packet{at: h.now.Add(h.latency), from: from,
			src: tx.Src, dst: tx.Dst, b: append([]byte(nil), tx.Payload...)})
		return true
	}
	return h.nodes[from].SendBatch(h.now, connID, payloads, perPayload(emit))
}

// perPayload is an Emit that hands each payload of a run to take as a
// transmit of its own, and stops at the first it refuses.
func perPayload(take func(Transmit) bool) Emit {
	return func(t Transmit, payloads [][]byte) int {
		for i, p := range payloads {
			if t.Payload != nil {
				panic("SendBatch's emit got a Transmit with a Payload")
			}
			t.Payload = p
			if !take(t) {
				return i
			}
			t.Payload = nil
		}
		return len(payloads)
	}
}

// checkSendBatch: SendBatch delivers what emit accepted, in order and byte
// for byte, stops at the first refusal, and counts only what was accepted.
func checkSendBatch(t *testing.T, h *pairHarness, from int) {
	to := 1 - from
	t.Helper()
	h.keep = true
	payloads := make([][]byte, 10)
	for i := range payloads {
		payloads[i] = bytes.Repeat([]byte{byte(0x80 + i)}, 100+i)
	}
	before, _ := h.nodes[from].ConnStats(connID)
	h.payloads[to] = nil
	n, err := h.sendBatchThrough(from, payloads, 6)
	if n != 6 || err != nil {
		t.Fatalf("SendBatch with emit refusing the 7th = %d, %v; want 6, nil", n, err)
	}
	if tx, ok := h.nodes[from].PollTransmit(); ok && tx.Class == gso.Data {
		t.Fatalf("a Data transmit was left for PollTransmit: %+v", tx)
	}
	after, _ := h.nodes[from].ConnStats(connID)
	if d := after.DatagramsSent - before.DatagramsSent; d != 6 {
		t.Fatalf("DatagramsSent grew by %d; want the 6 accepted", d)
	}
	h.drain()
	h.runFor(100 * time.Millisecond)
	got := h.payloads[to]
	if len(got) != 6 {
		t.Fatalf("%d payloads arrived; want 6", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], payloads[i]) {
			t.Fatalf("payload %d arrived as %x; want %x", i, got[i], payloads[i])
		}
	}
	// The rest, as a program retries them, follows in order.
	h.payloads[to] = nil
	if n, err := h.sendBatchThrough(from, payloads[6:], 100); n != 4 || err != nil {
		t.Fatalf("retry = %d, %v", n, err)
	}
	h.drain()
	h.runFor(100 * time.Millisecond)
	if got := h.payloads[to]; len(got) != 4 || !bytes.Equal(got[0], payloads[6]) || !bytes.Equal(got[3], payloads[9]) {
		t.Fatalf("the retried payloads arrived as %d of 4, or out of order", len(got))
	}
	// A bad payload stops the batch with Send's error.
	if n, err := h.sendBatchThrough(from, [][]byte{{1}, nil, {2}}, 100); n != 1 || err != ErrEmptyPayload {
		t.Fatalf("batch with an empty payload = %d, %v; want 1, ErrEmptyPayload", n, err)
	}
	// A refusal before a bad payload is a refusal: the caller retries the
	// run, and learns of the bad payload when it reaches it.
	big := make([]byte, gso.MaxBytesIPv4+1)
	if n, err := h.sendBatchThrough(from, [][]byte{{1}, {2}, big}, 1); n != 1 || err != nil {
		t.Fatalf("batch refused at its 2nd payload before a too large 3rd = %d, %v; want 1, nil", n, err)
	}
	if n, err := h.sendBatchThrough(from, [][]byte{{2}, big, {3}}, 100); n != 1 || !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("batch with a too large payload = %d, %v; want 1, ErrPayloadTooLarge", n, err)
	}
	h.drain()
}

func TestSendBatchOnADirectPath(t *testing.T) {
	h := newPairHarness(t, 42, ice.Config{})
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	checkSendBatch(t, h, 0)
}

func TestSendBatchOnARelayedPath(t *testing.T) {
	h := newRelayPair(t, 43)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	// The side whose own relay wraps what it sends.
	from := -1
	for i := range h.nodes {
		if p, _ := h.nodes[i].Path(connID); p.Local.Type == stunmsg.Relay {
			from = i
		}
	}
	if from < 0 {
		t.Fatal("neither side sends through its own relay")
	}
	checkSendBatch(t, h, from)
}

func TestSendBatchBuffersBeforeConnecting(t *testing.T) {
	h := newPairHarness(t, 44, ice.Config{})
	h.quiet = true
	h.keep = true
	h.connect([2]Role{Controlling, Controlled})
	payloads := [][]byte{{0x81}, {0x82}, {0x83}}
	n, err := h.nodes[0].SendBatch(h.now, connID, payloads, perPayload(func(Transmit) bool {
		t.Fatal("emit called before the connection has a path")
		return false
	}))
	if n != 3 || err != nil {
		t.Fatalf("SendBatch before connecting = %d, %v", n, err)
	}
	h.runFor(3 * time.Second)
	h.mustConnect()
	if got := h.payloads[1]; len(got) != 3 || got[0][0] != 0x81 || got[2][0] != 0x83 {
		t.Fatalf("buffered payloads arrived as %x", got)
	}
}

// On a relayed path whose permission toward the peer is not installed
// (here the sender gave it and its channel back, as when the remote is
// peer reflexive), Send asks the relay for it first: the request is
// Control and stays for PollTransmit, and emit gets the Data transmit,
// once, and only it. Nothing the batch sent is left behind to go out
// again after a refusal the caller retries.
func TestSendBatchOnARelayedPathWithoutItsPermission(t *testing.T) {
	h := newRelayPair(t, 43)
	h.quiet = true
	h.connect([2]Role{Controlling, Controlled})
	h.runFor(3 * time.Second)
	h.mustConnect()
	from := -1
	for i := range h.nodes {
		if p, _ := h.nodes[i].Path(connID); p.Local.Type == stunmsg.Relay {
			from = i
		}
	}
	if from < 0 {
		t.Fatal("neither side sends through its own relay")
	}
	n := h.nodes[from]
	c := n.conns[connID]
	for _, try := range []struct {
		accept bool
		want   int
	}{{false, 0}, {true, 1}} {
		n.releasePeers(c)
		h.drain() // the relay's own transmits so far
		var classes []gso.Class
		emit := func(tx Transmit) bool {
			classes = append(classes, tx.Class)
			return try.accept
		}
		got, err := n.SendBatch(h.now, connID, [][]byte{[]byte("once")}, perPayload(emit))
		if got != try.want || err != nil {
			t.Fatalf("emit accepting=%v: SendBatch = %d, %v; want %d, nil", try.accept, got, err, try.want)
		}
		if len(classes) != 1 || classes[0] != gso.Data {
			t.Fatalf("emit accepting=%v got transmits of classes %v; want one Data", try.accept, classes)
		}
		control := 0
		for {
			tx, ok := n.PollTransmit()
			if !ok {
				break
			}
			if tx.Class == gso.Data {
				t.Fatalf("emit accepting=%v: a Data transmit was left for PollTransmit", try.accept)
			}
			control++
		}
		if control == 0 {
			t.Fatalf("emit accepting=%v: no permission request was left for PollTransmit", try.accept)
		}
	}
}
