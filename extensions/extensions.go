// Package extensions holds the vault extensions that ship inside sesame,
// compiled to WebAssembly and embedded, so that "builtin:NAME" references
// work with nothing but the binary.
package extensions

import (
	"maps"
	"slices"
)

// builtins maps a builtin name to its module bytes.
var builtins = map[string][]byte{}

// Lookup returns the module of the builtin extension name.
func Lookup(name string) ([]byte, bool) {
	b, ok := builtins[name]
	return b, ok
}

// Names lists the builtin extensions in order.
func Names() []string { return slices.Sorted(maps.Keys(builtins)) }
