package gso

import (
	"math/bits"
	"time"
)

// Buffers come in power-of-two size classes from 1 KiB to 64 KiB, so a batch
// of small Control datagrams does not hold a 64 KiB buffer while a bulk flow
// still gets room for a full GSO batch.
const (
	minClassShift  = 10 // 1 KiB
	maxClassShift  = 16 // 64 KiB, enough for MaxBytesIPv6
	numSizeClasses = maxClassShift - minClassShift + 1
)

// sizeClass returns the class whose buffers hold at least n bytes.
func sizeClass(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numSizeClasses {
		panic("gso: buffer larger than the largest size class")
	}
	return c
}

func classBytes(c int) int { return 1 << (c + minClassShift) }

// pooledBuf is a free buffer and when it was last seen free. A zero freedAt
// means "freed since the last HandleTimeout"; HandleTimeout stamps it, which
// keeps the clock out of the send path.
type pooledBuf struct {
	buf     []byte
	freedAt time.Time
}

// bufPool keeps one stack per size class. The bottom of a stack holds the
// buffers that have been free longest, so trimming takes from the bottom.
type bufPool struct {
	free [numSizeClasses][]pooledBuf
	n    int // free buffers across classes
}

func (p *bufPool) get(class int) []byte {
	s := p.free[class]
	if len(s) == 0 {
		return make([]byte, 0, classBytes(class))
	}
	b := s[len(s)-1].buf
	s[len(s)-1] = pooledBuf{}
	p.free[class] = s[:len(s)-1]
	p.n--
	return b[:0]
}

func (p *bufPool) put(b []byte) {
	c := sizeClass(cap(b))
	p.free[c] = append(p.free[c], pooledBuf{buf: b[:0]})
	p.n++
}

// expire stamps buffers freed since the last call and releases those free
// for at least ttl. It returns when the next buffer would expire.
func (p *bufPool) expire(now time.Time, ttl time.Duration) (next time.Time, ok bool) {
	for c := range p.free {
		s := p.free[c]
		for i := len(s) - 1; i >= 0 && s[i].freedAt.IsZero(); i-- {
			s[i].freedAt = now
		}
		drop := 0
		for drop < len(s) && !now.Before(s[drop].freedAt.Add(ttl)) {
			drop++
		}
		if drop > 0 {
			n := copy(s, s[drop:])
			clear(s[n:])
			s = s[:n]
			p.free[c] = s
			p.n -= drop
		}
		if len(s) > 0 {
			at := s[0].freedAt.Add(ttl)
			if !ok || at.Before(next) {
				next, ok = at, true
			}
		}
	}
	return next, ok
}
