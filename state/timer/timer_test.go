package timer

import (
	"testing"
	"time"
)

func TestNextKeepsTheEarliestAndTheFirstOfEqualOnes(t *testing.T) {
	t0 := time.Unix(100, 0)
	var n Next
	if _, _, ok := n.Poll(); ok {
		t.Fatal("an empty Next has a deadline")
	}
	n.Offer(t0.Add(2*time.Second), "a: later")
	n.OfferIf(t0.Add(time.Second), "a: unarmed", false)
	n.Offer(t0.Add(time.Second), "a: first")
	n.Offer(t0.Add(time.Second), "a: tie")
	at, reason, ok := n.Poll()
	if !ok || !at.Equal(t0.Add(time.Second)) || reason != "a: first" {
		t.Fatalf("got %v %q %v, want t0+1s \"a: first\"", at, reason, ok)
	}
	n.NotBefore(t0.Add(3 * time.Second))
	if d, _ := n.Deadline(); !d.At.Equal(t0.Add(3*time.Second)) || d.Reason != "a: first" {
		t.Fatalf("NotBefore gave %v", d)
	}
}
