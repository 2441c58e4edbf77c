package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/registry"
)

// checkName validates a secret name for op. Wildcards are refused where a
// single secret is meant.
func checkName(op Op, vault, name string) error {
	switch {
	case name == "":
		return wrapf(op, vault, name, ErrInvalidName, "a secret name cannot be empty")
	case !utf8.ValidString(name):
		return wrapf(op, vault, "", ErrInvalidName, "a secret name must be valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return wrapf(op, vault, "", ErrInvalidName, "a secret name cannot contain control characters")
	case len(name) > abi.MaxNameBytes:
		return wrapf(op, vault, shorten(name), ErrInvalidName, "a secret name is at most %d bytes, not %d", abi.MaxNameBytes, len(name))
	case abi.HasWildcard(name):
		return wrapf(op, vault, name, ErrInvalidName, "a secret name cannot contain the wildcards * or ?")
	}
	return nil
}

// shorten returns the first 32 bytes of a long name, cut at a character
// boundary, and an ellipsis: an error names the secret without repeating
// kilobytes of it.
func shorten(name string) string {
	n := 32
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n] + "…"
}

// checkVaultName validates a vault name by the registry's rule.
func checkVaultName(op Op, name string) error {
	switch {
	case registry.ValidName(name):
		return nil
	case name == "" || len(name) > registry.MaxName:
		return wrapf(op, name, "", ErrInvalidName, "a vault name has 1 to %d characters", registry.MaxName)
	}
	return wrapf(op, name, "", ErrInvalidName, "a vault name has letters, digits, '-', '_' and '.', and starts with a letter or digit")
}
