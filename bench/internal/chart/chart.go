// Package chart draws the horizontal bar charts of BENCHMARKS.md as SVG,
// with nothing but the standard library: one row per measured thing, one bar
// per series, an optional logarithmic axis and a reference line (1× for
// ratios).
package chart

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// Bars is one chart.
type Bars struct {
	Title  string
	Axis   string   // what the axis measures, e.g. "× sesame (WAT guest), log scale"
	Series []string // one name per bar of a row; a legend is drawn when there are several
	Rows   []Row
	Log    bool    // logarithmic axis (values must be > 0)
	Ref    float64 // draw a reference line at this value (0 = none)
	Format func(float64) string
}

// Row is one label and one value per series; NaN (or <= 0 on a log axis)
// leaves its bar out.
type Row struct {
	Label  string
	Values []float64
}

var palette = []string{"#3b6ea8", "#d08c2f", "#5a9e5a", "#a8443b"}

const (
	width   = 860
	labelW  = 300
	rightW  = 70
	barH    = 14
	barGap  = 3
	rowGap  = 10
	topH    = 46
	bottomH = 46
)

// Write writes the chart as a standalone SVG document.
func (c *Bars) Write(w io.Writer) error {
	format := c.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
	}
	nser := max(1, len(c.Series))
	rowH := nser*barH + (nser-1)*barGap + rowGap
	legendH := 0
	if len(c.Series) > 1 {
		legendH = 20
	}
	height := topH + legendH + len(c.Rows)*rowH + bottomH
	plotW := float64(width - labelW - rightW)

	lo, hi := c.bounds()
	scale := func(v float64) float64 {
		if c.Log {
			return (math.Log10(v) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo)) * plotW
		}
		return (v - lo) / (hi - lo) * plotW
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", 10, esc(c.Title))
	y0 := topH + legendH
	if legendH > 0 {
		x := labelW
		for i, s := range c.Series {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`, x, topH-6, palette[i%len(palette)])
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+16, topH+4, esc(s))
			x += 30 + 8*len(s)
		}
	}
	plotBottom := y0 + len(c.Rows)*rowH
	// Grid lines and ticks.
	for _, t := range c.ticks(lo, hi) {
		x := float64(labelW) + scale(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x, y0-4, x, plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x, plotBottom+14, esc(format(t)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#333">%s</text>`+"\n", labelW+int(plotW)/2, plotBottom+34, esc(c.Axis))
	for i, r := range c.Rows {
		y := y0 + i*rowH
		mid := y + (nser*barH+(nser-1)*barGap)/2 + 4
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, mid, esc(r.Label))
		for j, v := range r.Values {
			if math.IsNaN(v) || (c.Log && v <= 0) {
				continue
			}
			by := y + j*(barH+barGap)
			bw := math.Max(1, scale(v))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelW, by, bw, barH, palette[j%len(palette)])
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", float64(labelW)+bw+4, by+barH-3, esc(format(v)))
		}
	}
	if c.Ref > 0 && c.Ref >= lo && c.Ref <= hi {
		x := float64(labelW) + scale(c.Ref)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#a8443b" stroke-dasharray="4 3"/>`+"\n", x, y0-6, x, plotBottom)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", labelW, y0-6, labelW, plotBottom)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// bounds returns the axis range: from 0 (or the decade below the smallest
// value, on a log axis) to a little past the largest value.
func (c *Bars) bounds() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range c.Rows {
		for _, v := range r.Values {
			if math.IsNaN(v) || (c.Log && v <= 0) {
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if c.Ref > 0 {
		lo, hi = math.Min(lo, c.Ref), math.Max(hi, c.Ref)
	}
	if math.IsInf(lo, 1) {
		return 0.1, 1
	}
	if c.Log {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi*1.3)))
		return lo, hi
	}
	return 0, niceCeil(hi * 1.15)
}

func (c *Bars) ticks(lo, hi float64) []float64 {
	var t []float64
	if c.Log {
		for v := lo; v <= hi*1.0001; v *= 10 {
			t = append(t, v)
		}
		return t
	}
	step := niceCeil(hi / 5)
	for v := 0.0; v <= hi*1.0001; v += step {
		t = append(t, v)
	}
	return t
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string { return html.EscapeString(s) }
