package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// TestWellFormed checks that every kind of chart is a well-formed XML
// document with one bar per finite value.
func TestWellFormed(t *testing.T) {
	for _, c := range []Bars{
		{Title: "log <ratios> & more", Axis: "×", Series: []string{"get", "set"}, Log: true, Ref: 1,
			Rows: []Row{{"a", []float64{0.01, 3}}, {"b", []float64{120, math.NaN()}}, {"c", []float64{1, 0}}}},
		{Title: "linear", Axis: "MiB", Rows: []Row{{"x", []float64{12.5}}, {"y", []float64{0}}}},
		{Title: "empty"},
	} {
		var b strings.Builder
		if err := c.Write(&b); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(strings.NewReader(b.String()))
		bars := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.Title, err, b.String())
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" && len(se.Attr) > 3 {
				bars++
			}
		}
		want := 0
		for _, r := range c.Rows {
			for _, v := range r.Values {
				if !math.IsNaN(v) && !(c.Log && v <= 0) {
					want++
				}
			}
		}
		if len(c.Series) > 1 {
			want += len(c.Series) // legend swatches
		}
		if bars != want {
			t.Errorf("%s: %d bars, want %d", c.Title, bars, want)
		}
	}
}
