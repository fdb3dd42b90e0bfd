package bench

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

var (
	slot = flag.Duration("drivers.slot", 300*time.Millisecond, "how long each sender runs per repetition")
	reps = flag.Int("drivers.reps", 7, "repetitions of every case, interleaved; the best one counts (the machine is shared)")
)

// summary collects the report; TestMain prints it last so that the output
// ends with the drivers lines.
var summary, details []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, l := range details {
		fmt.Println(l)
	}
	for _, l := range summary {
		fmt.Println(l)
	}
	os.Exit(code)
}

// BenchmarkDrivers runs the whole comparison once, whatever b.N is: each
// case already runs for a fixed time slot.
func BenchmarkDrivers(b *testing.B) {
	if summary != nil {
		b.Skip("already measured")
	}
	for _, size := range []int{1200, 100} {
		base := measureSend(b, size)
		measureE2E(b, size, base)
	}
	for _, size := range []int{1200, 100} {
		measureRecv(b, size)
	}
}

type sendCase struct {
	name string
	send sender
}

var sendCases = []sendCase{
	{"naive", sendNaive},
	{"limit", sendLimit},
	{"peerlink", sendPeerlink},
	{"wggo", sendWireguard},
}

// measureSend runs every sender reps times, interleaved so that a noisy
// neighbour hurts all of them alike, keeping each one's best rate as
// delivered to the sink.
func measureSend(b *testing.B, size int) map[string]float64 {
	rx := newSink(b, true)
	defer rx.close()
	best := map[string]float64{}
	perCall := map[string]float64{}
	var allocs, received, offered float64
	for range *reps {
		for _, sc := range sendCases {
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			before := rx.datagrams.Load()
			start := time.Now()
			s := sc.send(b, rx.addr, size, *slot)
			elapsed := time.Since(start).Seconds()
			runtime.ReadMemStats(&ms1)
			if sc.name == "peerlink" {
				allocs = max(allocs, float64(ms1.Mallocs-ms0.Mallocs)/float64(s.datagrams))
			}
			// Let the sink catch up, so that what it still had to read
			// counts for this sender and not for the next one.
			got := rx.settle() - before
			received += float64(got)
			offered += float64(s.datagrams)
			// As delivered, as the drivers-e2e figures are: a sender
			// counts what it handed the kernel, and loopback drops what
			// overflows the sink's socket. Never above what it sent: a
			// sink that stalled past settle's quiet window counts the
			// rest of the last sender's backlog here.
			rate := float64(min(got, s.datagrams)) / elapsed
			if rate > best[sc.name] {
				best[sc.name] = rate
				if s.calls > 0 {
					perCall[sc.name] = float64(s.calls) / float64(s.datagrams)
				}
			}
		}
	}
	for _, sc := range sendCases {
		b.ReportMetric(best[sc.name], fmt.Sprintf("%s-%dB-dgrams/s", sc.name, size))
	}
	details = append(details, fmt.Sprintf(
		"drivers-syscalls size=%d naive=%.4f limit=%.4f peerlink=%.4f wggo>=%.4f per datagram; peerlink allocs/datagram=%.4f (send side, whole process); receiver got %.1f%% of what was sent",
		size, perCall["naive"], perCall["limit"], perCall["peerlink"], perCall["wggo"], allocs, 100*received/offered))
	pl := best["peerlink"]
	details = append(details, fmt.Sprintf(
		"parts-queue+conn size=%d naive=%.0f limit=%.0f queue+conn=%.0f wggo=%.0f queue+conn/limit=%.2f queue+conn/naive=%.2f queue+conn/wggo=%.2f (the gso queue and Linux Conn alone, no Node, pump, budget or loop: not what a program gets; see drivers-e2e)",
		size, best["naive"], best["limit"], pl, best["wggo"], pl/best["limit"], pl/best["naive"], pl/best["wggo"]))
	return best
}

// measureE2E measures the path a program calls (see e2ePair) with Send and
// with SendBatch, reps times each, interleaved, keeping the best rate of
// each, and prints it beside the baselines measureSend found.
func measureE2E(b *testing.B, size int, base map[string]float64) {
	p := newE2EPair(b)
	defer p.close()
	best := map[string]e2eResult{}
	var accepted, delivered uint64
	var allocs float64
	for range *reps {
		for _, mode := range []string{"send", "batch"} {
			send := p.sendEach(b)
			if mode == "batch" {
				send = p.sendBatches(b)
			}
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			r := p.run(b, size, *slot, send)
			runtime.ReadMemStats(&ms1)
			if mode == "batch" {
				allocs = max(allocs, float64(ms1.Mallocs-ms0.Mallocs)/float64(max(r.delivered, 1)))
			}
			accepted += r.accepted
			delivered += r.delivered
			if r.rate > best[mode].rate {
				best[mode] = r
			}
		}
	}
	send, batch := best["send"].rate, best["batch"].rate
	details = append(details, fmt.Sprintf(
		"drivers-e2e-detail size=%d receiver got %.2f%% of what Send/SendBatch accepted; batch allocs/datagram=%.4f (both Drivers, whole process)",
		size, 100*float64(delivered)/float64(max(accepted, 1)), allocs))
	summary = append(summary, fmt.Sprintf(
		"drivers-e2e size=%d send=%.0f batch=%.0f wggo=%.0f limit=%.0f naive=%.0f batch/wggo=%.2f batch/limit=%.2f send/naive=%.2f",
		size, send, batch, base["wggo"], base["limit"], base["naive"], batch/base["wggo"], batch/base["limit"], send/base["naive"]))
}

// measureRecv floods a receiver with the kernel-limit sender, once with
// UDP_GRO and once without, and reports what the receiver got through.
func measureRecv(b *testing.B, size int) {
	rates := map[bool]float64{}
	calls := map[bool]float64{}
	for range *reps {
		for _, gro := range []bool{true, false} {
			rx := newSink(b, gro)
			start := time.Now()
			sendLimit(b, rx.addr, size, *slot)
			got := rx.datagrams.Load()
			elapsed := time.Since(start).Seconds()
			st := rx.conn.Stats()
			rx.close()
			if r := float64(got) / elapsed; r > rates[gro] {
				rates[gro] = r
				calls[gro] = float64(st.RecvCalls) / float64(max(1, st.RecvDatagrams))
			}
		}
	}
	details = append(details, fmt.Sprintf(
		"drivers-recv size=%d gro=%.0f nogro=%.0f datagrams/s; recvmmsg calls per datagram gro=%.4f nogro=%.4f",
		size, rates[true], rates[false], calls[true], calls[false]))
}
