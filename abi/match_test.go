package abi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// matchCases also seed FuzzMatch.
var matchCases = []struct {
	pattern, name string
	cs            bool // case-sensitive
	want          bool
}{
	// No metacharacters: the whole name, compared by rune.
	{"", "", true, true},
	{"", "a", true, false},
	{"a", "", true, false},
	{"abc", "abc", true, true},
	{"abc", "abcd", true, false},
	{"abcd", "abc", true, false},
	{"abc", "abd", true, false},

	// '*' matches any run, including none.
	{"*", "", true, true},
	{"*", "anything at all", true, true},
	{"**", "", true, true},
	{"a*", "a", true, true},
	{"a*", "abc", true, true},
	{"a*", "ba", true, false},
	{"*c", "abc", true, true},
	{"*c", "abcd", true, false},
	{"a*c", "ac", true, true},
	{"a*c", "abbbc", true, true},
	{"a*c", "abbbcd", true, false},
	{"a*b*c", "a-b-c", true, true},
	{"a*b*c", "a-c-b", true, false},
	{"*a*", "xxaxx", true, true},
	{"*a*", "xxxx", true, false},
	{"db/*", "db/password", true, true},
	{"db/*", "db", true, false},
	{"*/*", "a/b/c", true, true},
	{"a**b", "ab", true, true},
	{"*ab", "aab", true, true}, // needs backtracking
	{"*aab", "aaab", true, true},
	{"a*ab", "aab", true, true},
	{"*x*y*", "yx", true, false},

	// '?' matches exactly one character (rune), never none.
	{"?", "", true, false},
	{"?", "a", true, true},
	{"?", "ab", true, false},
	{"a?c", "abc", true, true},
	{"a?c", "ac", true, false},
	{"??", "ab", true, true},
	{"???", "ab", true, false},
	{"?*", "", true, false},
	{"?*", "a", true, true},
	{"*?", "abc", true, true},
	{"*?c", "c", true, false},
	{"a?*?b", "axyb", true, true},
	{"a?*?b", "axb", true, false},

	// Multi-byte runes are one character each.
	{"?", "é", true, true},
	{"?", "🔑", true, true},
	{"??", "🔑", true, false},
	{"p?ss", "päss", true, true},
	{"*ö*", "pässwörd", true, true},
	{"?????", "日本語です", true, true},
	{"日*語", "日本語", true, true},
	{"*🔑", "key 🔑", true, true},

	// Other characters are literals: no classes, no escapes.
	{"[a]", "a", true, false},
	{"[a]", "[a]", true, true},
	{`\*`, "*", true, false},
	{`\*`, `\x`, true, true},
	{"a.c", "abc", true, false},
	{"%", "%", true, true},
	{"*", "*", true, true},
	{"?", "?", true, true},

	// Case folding.
	{"ABC", "abc", true, false},
	{"ABC", "abc", false, true},
	{"db/*", "DB/Password", false, true},
	{"db/*", "DB/Password", true, false},
	{"*WORD", "password", false, true},
	{"?B?", "AbC", false, true},
	{"ÄÖÜ", "äöü", false, true},
	{"ÄÖÜ", "äöü", true, false},
	{"σ", "Σ", false, true},
	{"σ", "ς", false, true},      // final sigma folds with sigma
	{"k", "\u212a", false, true}, // KELVIN SIGN folds to k
	{"k", "\u212a", true, false},
	{"ß", "SS", false, false}, // simple folding only: one rune never matches two
	{"straße", "STRASSE", false, false},
	{"i", "İ", false, false}, // no Turkish special case
	{"1", "1", false, true},
	{"a", "b", false, false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchCases {
		if got := abi.Match(tt.pattern, tt.name, tt.cs); got != tt.want {
			t.Errorf("Match(%q, %q, caseSensitive=%v) = %v, want %v", tt.pattern, tt.name, tt.cs, got, tt.want)
		}
		// Folding only ever adds matches.
		if tt.cs && tt.want && !abi.Match(tt.pattern, tt.name, false) {
			t.Errorf("Match(%q, %q) matches case-sensitively but not otherwise", tt.pattern, tt.name)
		}
		// A pattern without metacharacters matches its own text.
		if !abi.HasWildcard(tt.pattern) && !abi.Match(tt.pattern, tt.pattern, tt.cs) {
			t.Errorf("Match(%q, %q) is false", tt.pattern, tt.pattern)
		}
	}
}

// TestMatchPathological runs patterns that take exponential time in a naive
// backtracking matcher. Each must finish at once.
func TestMatchPathological(t *testing.T) {
	long := strings.Repeat("a", 100_000)
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*a*a*a*a*b", long, false},
		{"*a*a*a*a*a", long, true},
		{strings.Repeat("*a", 50) + "*b", strings.Repeat("a", 10_000), false},
		{strings.Repeat("a*", 50) + "b", strings.Repeat("a", 10_000), false},
		{strings.Repeat("?", 100) + "*b", long, false},
		{"*" + strings.Repeat("a", 100) + "b", long, false},
		{strings.Repeat("*", 10_000) + "b", long, false},
		{"*a*a*a*a*b", long + "b", true},
	}
	for _, tt := range tests {
		for _, cs := range []bool{true, false} {
			start := time.Now()
			got := abi.Match(tt.pattern, tt.name, cs)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Match(%.20q…, %d bytes, %v) took %v", tt.pattern, len(tt.name), cs, d)
			}
			if got != tt.want {
				t.Errorf("Match(%.20q…, %d bytes, %v) = %v, want %v", tt.pattern, len(tt.name), cs, got, tt.want)
			}
		}
	}
}

func TestHasWildcard(t *testing.T) {
	for s, want := range map[string]bool{
		"": false, "abc": false, "a*": true, "?": true, "db/pass?word": true, "[a]": false, `\`: false, "日本": false,
	} {
		if got := abi.HasWildcard(s); got != want {
			t.Errorf("HasWildcard(%q) = %v, want %v", s, got, want)
		}
	}
}
