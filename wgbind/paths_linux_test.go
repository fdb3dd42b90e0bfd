package wgbind

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/stunmsg"
)

var (
	wgAddrA = netip.MustParseAddr("10.99.0.1")
	wgAddrB = netip.MustParseAddr("10.99.0.2")
)

// tunnel is two real wireguard-go devices over peerlink in a topo.
type tunnel struct {
	tp       *topo
	a, b     *side
	sig      *signalling
	path     node.Path
	retries  atomic.Int64 // handshake retries, both sides
	sendErrs atomic.Int64 // send errors wireguard-go logged, both sides
	connect  time.Duration
	tunA     *nsTUN
}

// wgMTU is wireguard-go's default, which the package doc recommends: it
// fits a relayed path (1500 - 32) and a direct one on a 1500-byte link.
const wgMTU = 1420

// newTunnel builds the network, both sides and both devices, signals every
// candidate, and measures the connect time: from the first candidate
// signalled to the first ping reply through the tunnel.
func newTunnel(t *testing.T, ctx context.Context, symmetric bool, cfg Config) *tunnel {
	t.Helper()
	tn := &tunnel{tp: newTopo(t, symmetric)}
	tp := tn.tp
	tn.a = tp.hostSide(t, ctx, "a", tp.hostA, tp.hostAddrA, cfg)
	tn.b = tp.hostSide(t, ctx, "b", tp.hostB, tp.hostAddrB, cfg)
	ta := tunDevice(t, tp.hostA, "wga"+tp.tag, wgAddrA, wgMTU)
	tb := tunDevice(t, tp.hostB, "wgb"+tp.tag, wgAddrB, wgMTU)
	tn.tunA = ta
	tn.a.startRealDevice(t, ta, tn.b, wgAddrB.String()+"/32", &tn.retries, &tn.sendErrs)
	tn.b.startRealDevice(t, tb, tn.a, wgAddrA.String()+"/32", &tn.retries, &tn.sendErrs)
	tn.sig = connect(t, ctx, tn.a, tn.b, nil)
	c := await(t, tn.sig.others[0], 20*time.Second, "a connected", isConnected).(node.Connected)
	tn.path = c.Path
	if err := tn.ping(t, tp.hostA, wgAddrB, 56, 10*time.Second); err != nil {
		t.Fatalf("first ping through the tunnel: %v", err)
	}
	tn.connect = time.Since(tn.sig.firstCandidate())
	return tn
}

// ping sends echo requests every 10 ms from ns to dst until one is
// answered or within has passed; size is the ICMP payload, sent with
// don't-fragment.
func (tn *tunnel) ping(t *testing.T, ns string, dst netip.Addr, size int, within time.Duration) error {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-i", "0.01",
		"-M", "do", "-s", strconv.Itoa(size), "-w", strconv.Itoa(int(within.Seconds())), dst.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// iperf runs an iperf3 TCP stream from a to b through the tunnel for d
// and returns what b received, in bits per second.
func (tn *tunnel) iperf(t *testing.T, d time.Duration) float64 {
	t.Helper()
	return iperfTCP(t, tn.tp.hostA, tn.tp.hostB, wgAddrB, d)
}

func iperfTCP(t *testing.T, clientNS, serverNS string, server netip.Addr, d time.Duration, extra ...string) float64 {
	t.Helper()
	srv := exec.Command("ip", "netns", "exec", serverNS, "iperf3", "-s", "-1", "-B", server.String())
	var srvOut lockedBuffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}()
	var out []byte
	var err error
	// The server listens within milliseconds; retry until it does.
	for try := 0; try < 50; try++ {
		args := append([]string{"netns", "exec", clientNS, "iperf3", "-J", "-c", server.String(),
			"-t", strconv.FormatFloat(d.Seconds(), 'f', 0, 64)}, extra...)
		out, err = exec.Command("ip", args...).Output()
		// iperf3 -J reports a refused connection in its JSON, exit
		// status 0 or not.
		if !strings.Contains(string(out), "Connection refused") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("iperf3 client: %v\n%s\nserver:\n%s", err, out, srvOut.String())
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			// A UDP run (-u) reports one sum, of what arrived.
			Sum struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("iperf3 output: %v\n%s\nserver:\n%s", err, out, srvOut.String())
	}
	bps := r.End.SumReceived.BitsPerSecond
	if bps <= 0 {
		bps = r.End.Sum.BitsPerSecond
	}
	if bps <= 0 {
		t.Fatalf("iperf3 measured nothing:\n%s\nserver:\n%s", out, srvOut.String())
	}
	return bps
}

// awaitDirect returns once a's connection is on a direct path: the relay
// may answer first, and peerlink then upgrades to the direct path with
// PathChanged.
func (tn *tunnel) awaitDirect(t *testing.T) {
	t.Helper()
	if !relayed(tn.path) {
		return
	}
	e := await(t, tn.sig.others[0], 20*time.Second, "an upgrade to a direct path", func(e node.Event) bool {
		pc, ok := e.(node.PathChanged)
		return ok && !relayed(pc.Path)
	})
	t.Logf("connected through the relay first, upgraded to a direct path after %v", time.Since(tn.sig.firstCandidate()).Round(time.Millisecond))
	tn.path = e.(node.PathChanged).Path
}

func relayed(p node.Path) bool {
	return p.Local.Type == stunmsg.Relay || p.Remote.Type == stunmsg.Relay
}

// failures returns the Failed events either side has seen so far.
func (tn *tunnel) failures() []node.Event {
	var out []node.Event
	for _, ch := range tn.sig.others {
		for drained := false; !drained; {
			select {
			case e := <-ch:
				if _, ok := e.(node.Failed); ok {
					out = append(out, e)
				}
			default:
				drained = true
			}
		}
	}
	return out
}

func TestWireGuardOverConeNATsTakesADirectPath(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := newTunnel(t, ctx, false, Config{})
	tn.awaitDirect(t)
	bps := tn.iperf(t, 3*time.Second)
	if bps <= 0 {
		t.Fatal("iperf3 moved nothing through the tunnel")
	}
	if f := tn.failures(); len(f) > 0 || tn.retries.Load() > 0 {
		t.Fatalf("failures %v, handshake retries %d", f, tn.retries.Load())
	}
	t.Logf("direct path %v: connect %v (first candidate to first ping reply), iperf3 tcp %.2f Gbit/s",
		tn.path, tn.connect.Round(time.Millisecond), bps/1e9)
}

func TestWireGuardOverSymmetricNATsGoesThroughCoturn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := newTunnel(t, ctx, true, Config{})
	if !relayed(tn.path) {
		t.Fatalf("symmetric NATs on both sides should need the relay, got %v", tn.path)
	}
	t.Logf("relayed path %v: connect %v (first candidate to first ping reply)", tn.path, tn.connect.Round(time.Millisecond))
	bps := tn.iperf(t, 3*time.Second)
	if bps <= 0 {
		t.Fatal("iperf3 moved nothing through the tunnel")
	}
	t.Logf("relayed iperf3 tcp %.2f Mbit/s", bps/1e6)

	// The largest packet of the recommended MTU crosses the relay whole.
	if err := tn.ping(t, tn.tp.hostA, wgAddrB, wgMTU-28, 5*time.Second); err != nil {
		t.Fatalf("a full %d-byte packet over the relay: %v", wgMTU, err)
	}
	// The relayed path carries 1500 bytes: an MTU of 1468 fits, one more
	// byte is refused with an error that wireguard-go logs, not lost
	// silently.
	tn.tunA.setMTU(t, 1468)
	if err := tn.ping(t, tn.tp.hostA, wgAddrB, 1468-28, 5*time.Second); err != nil {
		t.Fatalf("a 1468-byte packet over the relay: %v", err)
	}
	before := tn.sendErrs.Load()
	tn.tunA.setMTU(t, 1469)
	if err := tn.ping(t, tn.tp.hostA, wgAddrB, 1469-28, 2*time.Second); err == nil {
		t.Fatal("a 1469-byte packet crossed a path that carries 1500 bytes of WireGuard")
	}
	if tn.sendErrs.Load() == before {
		t.Fatal("the oversized packet was not refused with an error")
	}
	tn.tunA.setMTU(t, wgMTU)

	// wireguard-go closing and reopening its Bind keeps the connection
	// and the relay allocation.
	rs, err := tn.a.d.RelayStats(ctx, tn.tp.turn)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.a.dev.BindUpdate(); err != nil {
		t.Fatal(err)
	}
	if err := tn.a.dev.Down(); err != nil {
		t.Fatal(err)
	}
	if err := tn.a.dev.Up(); err != nil {
		t.Fatal(err)
	}
	if err := tn.ping(t, tn.tp.hostA, wgAddrB, 56, 5*time.Second); err != nil {
		t.Fatalf("ping after BindUpdate and down/up: %v", err)
	}
	rs2, err := tn.a.d.RelayStats(ctx, tn.tp.turn)
	if err != nil {
		t.Fatal(err)
	}
	if rs2.Relayed != rs.Relayed || rs2.Client.Reallocations != rs.Client.Reallocations || rs2.Conns != 1 {
		t.Fatalf("the relay allocation did not survive: before %+v, after %+v", rs, rs2)
	}
	if f := tn.failures(); len(f) > 0 || tn.retries.Load() > 0 {
		t.Fatalf("failures %v, handshake retries %d", f, tn.retries.Load())
	}
}

// When the direct path dies, peerlink moves the connection to the relay;
// wireguard-go keeps its one endpoint and its session, and the tunnel
// carries on.
func TestWireGuardCarriesOnWhenTheDirectPathDies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tn := newTunnel(t, ctx, false, Config{})
	tn.awaitDirect(t)
	// The relayed pair is checked alongside, and probed as the backup.
	time.Sleep(2 * time.Second)
	// The NATs can no longer reach each other; both still reach coturn.
	rules := `table ip wgbblock { chain cut { type filter hook forward priority filter;
	ip saddr 10.201.1.2 ip daddr 10.201.2.2 drop; ip saddr 10.201.2.2 ip daddr 10.201.1.2 drop; }
}`
	cmd := exec.Command("ip", "netns", "exec", tn.tp.inet, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("blocking the direct path: %v\n%s", err, out)
	}
	blocked := time.Now()
	e := await(t, tn.sig.others[0], 30*time.Second, "a path change", func(e node.Event) bool {
		_, ok := e.(node.PathChanged)
		return ok
	}).(node.PathChanged)
	if !relayed(e.Path) {
		t.Fatalf("moved to %v, which is not through the relay", e.Path)
	}
	moved := time.Since(blocked)
	if err := tn.ping(t, tn.tp.hostA, wgAddrB, 56, 10*time.Second); err != nil {
		t.Fatalf("ping after the move to the relay: %v", err)
	}
	if f := tn.failures(); len(f) > 0 || tn.retries.Load() > 0 {
		t.Fatalf("failures %v, handshake retries %d", f, tn.retries.Load())
	}
	t.Logf("direct path blocked: moved to %v after %v; the tunnel carried on through the same endpoint", e.Path, moved.Round(time.Millisecond))
}
