package abi

import (
	"strings"
	"unicode"
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

// Fold returns the spelling shared by every name that differs from name only
// in case: each rune becomes the smallest rune of its Unicode simple
// case-folding orbit, and an ASCII capital then its lower case. Fold(a) ==
// Fold(b) exactly when strings.EqualFold(a, b), the rule Match uses without
// case sensitivity, so a case-insensitive vault can key its records by
// Fold(name). (The Kelvin sign folds to "k" and the long s to "s";
// strings.ToLower would miss the long s, and ToLower(ToUpper(s)) would merge
// "İ" with "i", which EqualFold keeps apart.)
func Fold(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	m := r
	if r >= utf8.RuneSelf {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}
