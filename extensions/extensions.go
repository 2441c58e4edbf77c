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
	"strings"
)

//go:embed *.wasm
var files embed.FS

// Lookup returns the module of the builtin extension name. The bytes are
// read from the binary on each call (a command that never loads a builtin
// extension does not pay for it); the caller owns them.
func Lookup(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, false
	}
	b, err := files.ReadFile(name + ".wasm")
	return b, err == nil
}

// Names lists the builtin extensions in order.
func Names() []string {
	var names []string
	entries, _ := files.ReadDir(".")
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".wasm"))
	}
	return names
}
