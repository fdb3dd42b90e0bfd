package netmodel

// GilbertElliott is the two-state bursty loss model: in the Good state a
// packet is lost with LossGood, in the Bad state with LossBad; after each
// packet the state flips with GoodToBad or BadToGood. Mean burst length in
// the Bad state is 1/BadToGood packets. The zero value never loses anything.
type GilbertElliott struct {
	GoodToBad float64 // p: chance per packet of entering Bad
	BadToGood float64 // r: chance per packet of leaving Bad
	LossGood  float64 // 1-k in the usual notation
	LossBad   float64 // 1-h in the usual notation
}

// Enabled reports whether the model can lose a packet.
func (g GilbertElliott) Enabled() bool {
	return g.LossGood > 0 || (g.GoodToBad > 0 && g.LossBad > 0)
}

// MeanLoss is the long-run loss rate: the stationary share of each state
// times its loss.
func (g GilbertElliott) MeanLoss() float64 {
	if g.GoodToBad+g.BadToGood == 0 {
		return g.LossGood
	}
	bad := g.GoodToBad / (g.GoodToBad + g.BadToGood)
	return (1-bad)*g.LossGood + bad*g.LossBad
}
