package gso

import "testing"

// FuzzQueueOperations reads the input as a program of queue operations and
// checks after each that the queue is still well-formed: the same model as
// the property test, fed by the fuzzer instead of rapid. It guards against
// panics and broken invariants on any sequence a caller can produce,
// including invalid input.
func FuzzQueueOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0xff, 0x20, 0x00, 0x81, 0x01, 0x30, 0xc0, 0x02})
	f.Add([]byte("enqueue enqueue drain partial drain"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		caps := []int{1, 2, 5, 64}[int(at(prog, 0))%4]
		limit := []int{1 << 10, 4 << 10, 64 << 10, DefaultConfig().DataByteLimit}[int(at(prog, 1))%4]
		q := New(Config{Caps: Caps{MaxSegments: caps}, DataByteLimit: limit, ControlByteLimit: 2 * limit})
		queued := [numClasses]int{}
		payload := make([]byte, MaxBytesIPv6+1)
		for i := 2; i+2 < len(prog); i += 3 {
			op, a, b := prog[i], prog[i+1], prog[i+2]
			switch op % 3 {
			case 0, 1: // enqueue: class, ECN (possibly invalid), flow and length from the bytes
				key := propFlows[int(a)%len(propFlows)]
				class := Class(op>>2) % 3 // 2 is invalid
				ecn := ECN(a>>4) % 5      // 4 is invalid
				n := int(b) * int(b>>1+1) % (MaxBytesIPv6 + 2)
				err := q.Enqueue(key.src, key.dst, payload[:n], class, ecn)
				if err == nil {
					queued[class]++
				}
			case 2: // peek up to a batches, then advance by b mod what was peeked (+1: sometimes too far)
				out := q.Peek(make([]*Batch, 0, int(a%8)+1))
				total := 0
				for _, bt := range out {
					total += bt.Segments()
					if bt.Segments() < 1 || bt.Segments() > caps || len(bt.Payload()) > MaxBytesFor(bt.Dst()) {
						t.Fatalf("malformed batch: %d segments of %d, %d bytes", bt.Segments(), bt.SegmentSize(), len(bt.Payload()))
					}
				}
				n := int(b) % (total + 2)
				if err := q.Advance(n); (err != nil) != (n > total) {
					t.Fatalf("advance %d of %d: %v", n, total, err)
				}
			}
			for c := Class(0); c < numClasses; c++ {
				if q.held[c] > q.byteLimit(c) {
					t.Fatalf("%v holds %d bytes, bound %d", c, q.held[c], q.byteLimit(c))
				}
			}
		}
	})
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}
