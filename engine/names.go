package engine

import (
	"unicode"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
)

// checkName validates a secret name for op. Wildcards are refused where a
// single secret is meant.
func checkName(op, vault, name string) error {
	switch {
	case name == "":
		return wrapf(op, vault, name, ErrInvalidName, "a secret name cannot be empty")
	case len(name) > abi.MaxNameBytes:
		return wrapf(op, vault, name[:32]+"…", ErrInvalidName, "a secret name is at most %d bytes", abi.MaxNameBytes)
	case !utf8.ValidString(name):
		return wrapf(op, vault, "", ErrInvalidName, "a secret name must be valid UTF-8")
	case abi.HasWildcard(name):
		return wrapf(op, vault, name, ErrInvalidName, "a secret name cannot contain the wildcards * or ?")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return wrapf(op, vault, "", ErrInvalidName, "a secret name cannot contain control characters")
		}
	}
	return nil
}

// checkVaultName validates a vault name as the registry does.
func checkVaultName(op, name string) error {
	if name == "" || len(name) > 64 {
		return wrapf(op, name, "", ErrInvalidName, "a vault name has 1 to 64 characters")
	}
	for i, c := range []byte(name) {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || (c != '-' && c != '_' && c != '.')) {
			return wrapf(op, name, "", ErrInvalidName, "a vault name has letters, digits, '-', '_' and '.', and starts with a letter or digit")
		}
	}
	return nil
}
