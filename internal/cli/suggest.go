package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// closest returns the name in names that typed was most likely meant to be:
// the only one that begins with typed, or else the one the fewest edits away
// (a swap of two neighbours counts as one edit), if that is at most a third
// of typed's length (and at least one edit). It returns "" when no name is
// that close: a wild guess would mislead more than it helps.
func closest(typed string, names []string) string {
	var prefixed []string
	for _, n := range names {
		if strings.HasPrefix(n, typed) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 && typed != "" {
		return prefixed[0]
	}
	best, bestD := "", max(1, len(typed)/3)+1
	for _, n := range names {
		if d := edits(typed, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// edits is the optimal string alignment distance between a and b: the
// insertions, deletions, substitutions and swaps of neighbours that turn a
// into b, byte by byte (command and flag names are ASCII).
func edits(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// commandNames lists the visible names of cmds.
func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	return names
}

// flagNames lists the names of flags, without dashes.
func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	return names
}
