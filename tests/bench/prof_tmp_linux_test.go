package bench

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkE2EProfile(b *testing.B) {
	if os.Getenv("E2EPROF") == "" {
		b.Skip()
	}
	p := newE2EPair(b)
	defer p.close()
	for range 3 {
		c0 := cpuNow()
		r := p.run(b, 1200, 2*time.Second, p.sendBatches(b))
		c1 := cpuNow()
		b.Logf("rate=%.0f del=%d cpu/dgram=%.0fns", r.rate, r.delivered, float64(c1-c0)/float64(r.delivered))
	}
}
