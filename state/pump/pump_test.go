package pump

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/node"
)

// fakeConn takes up to room datagrams per Send, then reports would-block;
// unsent plays the kernel's SIOCOUTQ.
type fakeConn struct {
	room   int
	unsent int
	sent   []gso.Class
}

func (c *fakeConn) Caps() gso.Caps { return gso.Caps{MaxSegments: 64} }
func (c *fakeConn) Send(batches []*gso.Batch) (int, error) {
	n := 0
	for _, b := range batches {
		for range b.Segments() {
			if c.room == 0 {
				return n, ErrWouldBlock
			}
			c.room--
			c.sent = append(c.sent, b.Class())
			n++
		}
	}
	return n, nil
}
func (c *fakeConn) Recv([]Message) (int, error) { return 0, nil }
func (c *fakeConn) Close() error                { return nil }
func (c *fakeConn) UnsentBytes() (int, error)   { return c.unsent, nil }

var (
	local = netip.MustParseAddrPort("10.0.0.1:4000")
	peer  = netip.MustParseAddrPort("192.0.2.7:4000")
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newTestPump(t *testing.T, c *fakeConn, budget int) *Pump {
	t.Helper()
	n, err := node.New(node.Config{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	return New(n, c, Config{KernelDataBudget: budget})
}

func enqueue(t *testing.T, p *Pump, class gso.Class, count int) {
	t.Helper()
	for range count {
		if err := p.Queue().Enqueue(local, peer, make([]byte, 1000), class, gso.NotECT); err != nil {
			t.Fatal(err)
		}
	}
}

func TestControlLeavesWhileTheKernelBudgetHoldsData(t *testing.T) {
	c := &fakeConn{room: 100, unsent: 64 << 10}
	p := newTestPump(t, c, 32<<10)
	enqueue(t, p, gso.Data, 3)
	enqueue(t, p, gso.Control, 1)
	res, err := p.Flush(t0)
	if err != nil || !res.DataHeld || res.Datagrams != 1 || len(c.sent) != 1 || c.sent[0] != gso.Control {
		t.Fatalf("flush over budget: %+v %v, sent %v", res, err, c.sent)
	}
	at, reason, ok := p.PollTimeout()
	if !ok || reason != "pump: kernel-budget" || !at.Equal(t0.Add(DefaultConfig().BudgetRecheck)) {
		t.Fatalf("recheck at %v (%s, %v)", at, reason, ok)
	}
	c.unsent = 0
	p.HandleTimeout(at)
	res, err = p.Flush(at)
	if err != nil || res.DataHeld || res.Datagrams != 3 || !p.Queue().Empty() {
		t.Fatalf("flush under budget: %+v %v", res, err)
	}
}

func TestWithoutABudgetDataFollowsControlAtOnce(t *testing.T) {
	c := &fakeConn{room: 100, unsent: 1 << 20}
	p := newTestPump(t, c, 0)
	enqueue(t, p, gso.Data, 3)
	enqueue(t, p, gso.Control, 1)
	res, _ := p.Flush(t0)
	if res.DataHeld || res.Datagrams != 4 || c.sent[0] != gso.Control {
		t.Fatalf("flush: %+v, sent %v", res, c.sent)
	}
}

func TestAFullSocketKeepsTheRestQueuedUntilWritable(t *testing.T) {
	c := &fakeConn{room: 2}
	p := newTestPump(t, c, 0)
	enqueue(t, p, gso.Data, 5)
	res, err := p.Flush(t0)
	if err != nil || !res.Blocked || res.Datagrams != 2 || !p.WantsWritable() {
		t.Fatalf("first flush: %+v %v", res, err)
	}
	c.room = 10
	if res, _ := p.Flush(t0); !res.Blocked || res.Datagrams != 0 {
		t.Fatalf("flush before writable sent %+v", res)
	}
	p.SetWritable()
	res, err = p.Flush(t0)
	if err != nil || res.Blocked || res.Datagrams != 3 || !p.Queue().Empty() {
		t.Fatalf("flush after writable: %+v %v", res, err)
	}
	if s := p.Stats(); s.DatagramsSent != 5 || s.WouldBlock != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCoalescedMessagesAreSplitIntoDatagrams(t *testing.T) {
	p := newTestPump(t, &fakeConn{}, 0)
	msgs := []Message{{Buf: make([]byte, 4000), N: 2500, SegmentSize: 1000, Src: peer, Dst: local}}
	p.HandleMessages(t0, msgs, nil)
	if got := p.Stats().DatagramsReceived; got != 3 {
		t.Fatalf("%d datagrams fed to the node, want 3", got)
	}
	if got := p.Node().Stats().Dropped; got == [len(got)]uint64{} {
		t.Fatal("datagrams from an unknown peer should be dropped and counted by the node")
	}
}

func TestTheBudgetOffersOnlyTheDataThatFitsBesideTheKernelQueue(t *testing.T) {
	c := &fakeConn{room: 100, unsent: 10_000}
	p := newTestPump(t, c, 12_500)
	enqueue(t, p, gso.Data, 5) // one batch of five 1000-byte datagrams
	res, err := p.Flush(t0)
	// Data is admitted while below the budget: 3 datagrams, the third
	// crossing it by 500 bytes.
	if err != nil || !res.DataHeld || res.Datagrams != 3 {
		t.Fatalf("flush with 2500 bytes of room: %+v %v", res, err)
	}
	c.unsent = 0
	p.HandleTimeout(t0.Add(DefaultConfig().BudgetRecheck))
	if res, _ := p.Flush(t0.Add(DefaultConfig().BudgetRecheck)); res.DataHeld || res.Datagrams != 2 {
		t.Fatalf("flush with room: %+v", res)
	}
}

func TestADatagramLargerThanTheBudgetStillLeaves(t *testing.T) {
	c := &fakeConn{room: 100}
	p := newTestPump(t, c, 12<<10)
	if err := p.Queue().Enqueue(local, peer, make([]byte, 13000), gso.Data, gso.NotECT); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Flush(t0); err != nil || res.Datagrams != 1 || !p.Queue().Empty() {
		t.Fatalf("flush of a 13000-byte datagram under a 12 KiB budget: %+v %v", res, err)
	}
}

// refusingConn takes everything but batches to one destination, which it
// refuses with an error the kernel would give again on every try.
type refusingConn struct {
	fakeConn
	refuse netip.AddrPort
}

func (c *refusingConn) Send(batches []*gso.Batch) (int, error) {
	n := 0
	for _, b := range batches {
		if b.Dst() == c.refuse {
			return n, errors.New("message too long")
		}
		n += b.Segments()
		c.sent = append(c.sent, b.Class())
	}
	return n, nil
}

func TestABatchTheKernelKeepsRefusingIsDroppedAndCountedNotRetriedForEver(t *testing.T) {
	bad := netip.MustParseAddrPort("192.0.2.99:4000")
	c := &refusingConn{fakeConn: fakeConn{room: 100}, refuse: bad}
	p := newTestPump(t, &c.fakeConn, 0)
	p.conn = c
	if err := p.Queue().Enqueue(local, bad, make([]byte, 1000), gso.Data, gso.NotECT); err != nil {
		t.Fatal(err)
	}
	enqueue(t, p, gso.Data, 3) // to a good peer, behind the refused batch
	if _, err := p.Flush(t0); err == nil {
		t.Fatal("the refusal was not reported")
	}
	res, err := p.Flush(t0)
	if err != nil || res.Datagrams != 3 || !p.Queue().Empty() {
		t.Fatalf("second flush: %+v %v; want the three good datagrams sent", res, err)
	}
	if s := p.Stats(); s.DataSendDropped != 1 || s.SendErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}
