// Package extensions holds the vault extensions that ship inside sesame,
// compiled to WebAssembly and embedded, so that "builtin:NAME" references
// work with nothing but the binary:
//
//	secretstore  an encrypted local store with metadata (extensions/secretstore)
//	dotenv       a .env file in a granted folder, strings only (extensions/dotenv)
//
// The .wasm files are built from the folders beside them by `make
// extensions` (-trimpath -buildvcs=false, so the bytes are reproducible and
// the compilation cache hits) and committed; `make check` fails when a
// rebuild would change them.
package extensions

import (
	"embed"
	"maps"
	"slices"
	"strings"
)

//go:embed *.wasm
var files embed.FS

// builtins maps a builtin name to its module bytes.
var builtins = func() map[string][]byte {
	m := map[string][]byte{}
	entries, _ := files.ReadDir(".")
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		m[strings.TrimSuffix(e.Name(), ".wasm")] = b
	}
	return m
}()

// Lookup returns the module of the builtin extension name.
func Lookup(name string) ([]byte, bool) {
	b, ok := builtins[name]
	return b, ok
}

// Names lists the builtin extensions in order.
func Names() []string { return slices.Sorted(maps.Keys(builtins)) }
