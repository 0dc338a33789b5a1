package bench

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// Series is one latency sample to draw, in milliseconds.
type Series struct {
	Name   string
	Values []float64
}

// Panel is one empirical-CDF chart.
type Panel struct {
	Title  string
	Series []Series
}

// Geometry of one panel, in SVG user units.
const (
	panelW  = 380
	panelH  = 300
	marginL = 50
	marginR = 15
	marginT = 30
	marginB = 75 // x label plus the legend
)

var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// RenderECDF draws the panels side by side as empirical CDFs (x: latency in
// ms, y: fraction of requests at or below it). The x axis of each panel ends
// a little past the largest p99 of its series, so one outlier does not
// flatten the rest; points beyond are clipped to the edge and the title says
// so. Hand-written SVG: the harness takes no plotting dependency.
func RenderECDF(panels []Panel) []byte {
	width := panelW * max(len(panels), 1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		width, panelH, width, panelH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, panelH)
	for i, p := range panels {
		renderPanel(&b, p, float64(i*panelW))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func renderPanel(b *strings.Builder, p Panel, x0 float64) {
	plotW := float64(panelW - marginL - marginR)
	plotH := float64(panelH - marginT - marginB)
	left, top := x0+marginL, float64(marginT)
	xmax, clipped := axisMax(p.Series)
	title := p.Title
	if clipped {
		title += fmt.Sprintf(" (clipped at %s ms)", trimFloat(xmax))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="18" font-size="12" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", left, top, plotW, plotH)
	for _, t := range ticks(xmax) {
		x := left + t/xmax*plotW
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, top, x, top+plotH)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+plotH+14, trimFloat(t))
	}
	for _, f := range []float64{0, 0.5, 0.9, 1} {
		y := top + plotH - f*plotH
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+plotW, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-4, y+4, trimFloat(f))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">latency (ms)</text>`+"\n", left+plotW/2, top+plotH+30)
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">fraction of requests</text>`+"\n", x0+14, top+plotH/2)
	for i, s := range p.Series {
		color := palette[i%len(palette)]
		if pts := ecdfPoints(s.Values, xmax, left, top, plotW, plotH); pts != "" {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", color, pts)
		}
		ly := top + plotH + 46 + float64(i/2)*14
		lx := left + float64(i%2)*plotW/2
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+14, ly-4, color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s (n=%d)</text>`+"\n", lx+18, ly, html.EscapeString(s.Name), len(s.Values))
	}
}

// axisMax returns the right end of the x axis and whether any value lies
// beyond it.
func axisMax(series []Series) (float64, bool) {
	var hi, all float64
	for _, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		sorted := slices.Sorted(slices.Values(s.Values))
		hi = max(hi, Percentile(sorted, 0.99))
		all = max(all, sorted[len(sorted)-1])
	}
	if hi <= 0 {
		return 1, false
	}
	end := niceCeil(hi * 1.15)
	return end, all > end
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= v {
			return m * exp
		}
	}
	return 10 * exp
}

// ticks returns about five round tick positions in [0, end].
func ticks(end float64) []float64 {
	step := niceCeil(end / 5)
	var out []float64
	for t := 0.0; t <= end*(1+1e-9); t += step {
		out = append(out, t)
	}
	return out
}

func ecdfPoints(values []float64, xmax, left, top, w, h float64) string {
	if len(values) == 0 {
		return ""
	}
	sorted := slices.Sorted(slices.Values(values))
	n := float64(len(sorted))
	var b strings.Builder
	px := func(v float64) float64 { return left + min(v, xmax)/xmax*w }
	py := func(f float64) float64 { return top + h - f*h }
	fmt.Fprintf(&b, "%.1f,%.1f", px(sorted[0]), py(0))
	for i, v := range sorted {
		// A step: horizontal at the previous level, then up.
		fmt.Fprintf(&b, " %.1f,%.1f %.1f,%.1f", px(v), py(float64(i)/n), px(v), py(float64(i+1)/n))
	}
	return b.String()
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// PlotPanels chooses what the plot shows: sequential ADD, sequential DEL and
// the per-request latency of the largest burst, each subject against the floor.
func (r Report) PlotPanels() []Panel {
	sides := make([]struct {
		name string
		side Side
	}, 0, len(r.Subjects)+1)
	for _, s := range r.Subjects {
		sides = append(sides, struct {
			name string
			side Side
		}{s.Name, s.Side})
	}
	sides = append(sides, struct {
		name string
		side Side
	}{"floor", r.Floor.Side})

	panel := func(title string, pick func(Side) []float64) Panel {
		p := Panel{Title: title}
		for _, s := range sides {
			p.Series = append(p.Series, Series{Name: s.name, Values: pick(s.side)})
		}
		return p
	}
	panels := []Panel{
		panel("Sequential ADD", func(s Side) []float64 { return s.SeqAdd.Samples }),
		panel("Sequential DEL", func(s Side) []float64 { return s.SeqDel.Samples }),
	}
	if n := len(r.Params.Bursts); n > 0 {
		size := r.Params.Bursts[n-1]
		panels = append(panels, panel(fmt.Sprintf("Burst of %d ADDs, per request", size), func(s Side) []float64 {
			for _, b := range s.Bursts {
				if b.Size == size {
					return b.PerRequest.Samples
				}
			}
			return nil
		}))
	}
	return panels
}
