package sandbox

import (
	"regexp"
	"testing"
)

// TestValidExtensionName: the hand-written check accepts exactly what the
// manifest's rule ^[a-z0-9][a-z0-9-]*$ does, over every string of up to
// three bytes drawn from the characters at its edges.
func TestValidExtensionName(t *testing.T) {
	rule := regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	chars := []byte("az09-_A/.\x00\xff")
	var try func(s []byte)
	try = func(s []byte) {
		if got, want := validExtensionName(string(s)), rule.Match(s); got != want {
			t.Errorf("validExtensionName(%q) = %v, want %v", s, got, want)
		}
		if len(s) == 3 {
			return
		}
		for _, c := range chars {
			try(append(s, c))
		}
	}
	try(nil)
}
