package engine

import (
	"slices"
	"testing"
)

// TestSortInfos: a listing sorts case-insensitively, then exactly, so that
// names differing only in case both appear, in a stable order.
func TestSortInfos(t *testing.T) {
	t.Parallel()
	var in []Info
	for _, n := range []string{"b", "Zeta", "B", "a", "éclair", "A", "Éclair", "alpha"} {
		in = append(in, Info{Name: n})
	}
	var got []string
	for _, i := range sortInfos(in) {
		got = append(got, i.Name)
	}
	want := []string{"A", "a", "alpha", "B", "b", "Zeta", "Éclair", "éclair"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
}
