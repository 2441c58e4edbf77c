// Package stress holds what the stress tests of several packages share:
// their counts, and values that check themselves.
package stress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// Count returns normal, or long under SESAME_STRESS=1 (make stress).
func Count(normal, long int) int {
	if os.Getenv("SESAME_STRESS") != "" {
		return long
	}
	return normal
}

// Value is the n-th value written to name: the name, n, padding of a
// length that depends on n, and a checksum of all that, so that a value
// torn or mixed from two writes does not pass Check.
func Value(name string, n int) string {
	body := fmt.Sprintf("%s#%d#%s", name, n, strings.Repeat("~", 50+n*37%300))
	sum := sha256.Sum256([]byte(body))
	return body + "#" + hex.EncodeToString(sum[:8])
}

// Check reports whether v is a Value of name.
func Check(name, v string) bool {
	i := strings.LastIndexByte(v, '#')
	if i < 0 {
		return false
	}
	sum := sha256.Sum256([]byte(v[:i]))
	return v[i+1:] == hex.EncodeToString(sum[:8]) && strings.HasPrefix(v, name+"#")
}
