package api

import "testing"

// TestHashtableLookup: keys compare without regard to case; an exact match,
// then the first in sorted order, wins among several spellings.
func TestHashtableLookup(t *testing.T) {
	t.Parallel()
	tab := Hashtable{"user": "alice", "Pin": SecureString("1"), "Ab": "x", "aB": "y"}
	for _, c := range []struct{ key, want string }{
		{"user", "user"}, {"USER", "user"}, {"pin", "Pin"}, {"aB", "aB"}, {"ab", "Ab"}, {"nope", ""},
	} {
		k, _, ok := tab.Lookup(c.key)
		if k != c.want || ok != (c.want != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q", c.key, k, ok, c.want)
		}
	}
}
