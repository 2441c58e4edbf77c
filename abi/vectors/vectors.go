// Package vectors holds the test vectors of the sesame extension ABI
// (SPEC.md §7.9 in the parent directory): encodings that every decoder must
// accept, with their decoded form, and encodings that every decoder must
// reject; and the inputs and outputs of the host's key functions (§5.8).
// README.md beside this file describes the JSON format.
//
// The vectors live in their own package, not in abi, so that wasm guests
// that import abi do not carry them.
package vectors

import (
	"embed"
	"io/fs"
)

//go:embed *.json
var files embed.FS

// FS returns the vectors: one JSON file per vector, named
// <kind>-<case>.json, at its root (fs.Glob(vectors.FS(), "*.json") lists
// them). Implementations of the ABI in
// any language should run them all: a valid vector must decode to its
// "decoded" form and re-encode to exactly its "hex"; an invalid one, which
// has an "error" instead, must be rejected.
func FS() fs.FS { return files }
