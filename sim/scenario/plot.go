package scenario

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"time"
)

// Plot geometry, in SVG user units.
const (
	plotWidth   = 960
	panelHeight = 240
	marginLeft  = 70
	marginRight = 20
	marginTop   = 56
	panelGap    = 60
	legendRow   = 18
)

// plotColors tell runs apart, in the order they are given.
var plotColors = []string{"#1b7837", "#c51b7d", "#2166ac", "#e08214", "#542788"}

// Plot draws, for each result, the largest Control delay (probe delay) of
// either peer and the gso queue depth of each peer over time, one bucket
// per point, as a standalone SVG document. Results are overlaid in
// different colours with a legend naming their policies.
func Plot(results []*Result) []byte {
	var b bytes.Buffer
	height := marginTop + 2*panelHeight + panelGap + 40 + legendRow*len(results)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	if len(results) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	title := fmt.Sprintf("scenario %s, seed %d", results[0].Spec.Name, results[0].Spec.Seed)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s</text>`+"\n", marginLeft, html.EscapeString(title))

	end := time.Duration(0)
	var delayMax, queueMax float64
	for _, r := range results {
		end = max(end, r.Simulated)
		for _, k := range r.Buckets {
			delayMax = max(delayMax, ms(max(k.ControlDelayMax[0], k.ControlDelayMax[1])))
			queueMax = max(queueMax, float64(max(k.QueueBytes[0], k.QueueBytes[1]))/1000)
		}
	}
	top := panel{y: marginTop, label: "probe delay: enqueue to wire, ms (max per bucket, either peer)", yMax: niceCeil(delayMax), end: end}
	bottom := panel{y: marginTop + panelHeight + panelGap, label: "gso queue depth, kB (max per bucket; solid: peer 0, dashed: peer 1)", yMax: niceCeil(queueMax), end: end}
	top.frame(&b)
	bottom.frame(&b)
	for i, r := range results {
		color := plotColors[i%len(plotColors)]
		top.line(&b, r, color, "", func(k Bucket) float64 { return ms(max(k.ControlDelayMax[0], k.ControlDelayMax[1])) })
		for peer, dash := range []string{"", "4 3"} {
			bottom.line(&b, r, color, dash, func(k Bucket) float64 { return float64(k.QueueBytes[peer]) / 1000 })
		}
		if r.Spec.CutAt > 0 {
			x := top.x(r.Spec.CutAt)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888" stroke-dasharray="2 4"/>`+"\n",
				x, marginTop, x, bottom.y+panelHeight)
		}
		ly := bottom.y + panelHeight + 40 + legendRow*i
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="4" fill="%s"/>`, marginLeft, ly-5, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s: false failures %d, probe delay max %d ms</text>`+"\n",
			marginLeft+20, ly, html.EscapeString(r.Spec.Policy.String()), r.FalseFailures, r.ControlDelayMax().Milliseconds())
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// panel is one chart: time on x, a value on y.
type panel struct {
	y     int
	label string
	yMax  float64
	end   time.Duration
}

func (p panel) x(t time.Duration) float64 {
	w := float64(plotWidth - marginLeft - marginRight)
	if p.end <= 0 {
		return marginLeft
	}
	return marginLeft + w*t.Seconds()/p.end.Seconds()
}

func (p panel) yOf(v float64) float64 {
	return float64(p.y+panelHeight) - float64(panelHeight)*min(v, p.yMax)/p.yMax
}

// frame draws the axes, five grid lines with labels and the time axis.
func (p panel) frame(b *bytes.Buffer) {
	right := plotWidth - marginRight
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", marginLeft, p.y-8, html.EscapeString(p.label))
	const gridLines = 5
	for i := 0; i <= gridLines; i++ {
		v := p.yMax * float64(i) / gridLines
		y := p.yOf(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, marginLeft, y, right, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-6, y+4, fmtTick(v))
	}
	secs := p.end.Seconds()
	step := niceCeil(secs / 8)
	for t := 0.0; step > 0 && t <= secs; t += step {
		x := p.x(time.Duration(t * float64(time.Second)))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%ss</text>`, x, p.y+panelHeight+16, fmtTick(t))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n",
		marginLeft, p.y, right-marginLeft, panelHeight)
}

// line draws one series; buckets with no sample draw as zero.
func (p panel) line(b *bytes.Buffer, r *Result, color, dash string, value func(Bucket) float64) {
	if len(r.Buckets) == 0 {
		return
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5"`, color)
	if dash != "" {
		fmt.Fprintf(b, ` stroke-dasharray="%s"`, dash)
	}
	b.WriteString(` points="`)
	for i, k := range r.Buckets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", p.x(k.At+r.Spec.Bucket/2), p.yOf(value(k)))
	}
	b.WriteString(`"/>` + "\n")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so axis labels
// read well; at least 1.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}
