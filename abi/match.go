package abi

import (
	"strings"
	"unicode/utf8"
)

// Match reports whether name matches pattern, where '*' matches any run of
// characters and '?' exactly one (SPEC.md §4). There are no other
// metacharacters and no escapes. Without caseSensitive, letters are compared
// with Unicode simple folding, as strings.EqualFold does.
func Match(pattern, name string, caseSensitive bool) bool {
	// Iterative matching with one backtrack point: linear in practice and
	// never exponential, whatever the pattern.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			pc, ps := utf8.DecodeRuneInString(pattern[p:])
			nc, ns := utf8.DecodeRuneInString(name[n:])
			switch {
			case pc == '*':
				star, mark = p+ps, n
				p += ps
				continue
			case pc == '?' || runeEqual(pc, nc, caseSensitive):
				p += ps
				n += ns
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, ms := utf8.DecodeRuneInString(name[mark:])
		mark += ms
		p, n = star, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func runeEqual(a, b rune, caseSensitive bool) bool {
	if a == b {
		return true
	}
	return !caseSensitive && strings.EqualFold(string(a), string(b))
}

// HasWildcard reports whether s contains a character Match treats specially.
func HasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }
