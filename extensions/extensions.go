// Package extensions holds the vault extensions that ship inside sesame,
// compiled to WebAssembly and embedded, so that "builtin:NAME" references
// work with nothing but the binary:
//
//	secretstore  an encrypted local store with metadata (extensions/secretstore)
//	dotenv       a .env file in a granted folder, strings only (extensions/dotenv)
//	keepass      a KeePass database (KDBX 3.1 or 4) in a granted folder (extensions/keepass)
//	etcd         a team's secrets in an etcd cluster, encrypted to its members (extensions/etcd)
//
// The .wasm files are built from the folders beside them by `make
// extensions` and committed: secretstore, dotenv and etcd, C guests
// (wasi-libc and abi/c/sesame.h) built with clang and relative paths;
// keepass, a Go guest, with go build -trimpath -buildvcs=false; so the
// bytes are reproducible and the compilation cache hits. `make check` fails
// when a rebuild would change them. The tests load these very modules.
package extensions

import (
	"maps"
	"slices"

	_ "embed"
)

// The modules, in the binary's data: nothing is read or copied until a
// vault of one is loaded.
var (
	//go:embed secretstore.wasm
	secretstore []byte
	//go:embed dotenv.wasm
	dotenv []byte
	//go:embed keepass.wasm
	keepass []byte
	//go:embed etcd.wasm
	etcd []byte

	builtins = map[string][]byte{"secretstore": secretstore, "dotenv": dotenv, "keepass": keepass, "etcd": etcd}
)

// Lookup returns the module of the builtin extension name. The bytes are
// the binary's own, shared by every caller: read them, never change them.
func Lookup(name string) ([]byte, bool) {
	b, ok := builtins[name]
	return b, ok
}

// Names lists the builtin extensions in order.
func Names() []string { return slices.Sorted(maps.Keys(builtins)) }
