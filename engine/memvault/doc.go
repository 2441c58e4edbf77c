// Package memvault is a vault that keeps secrets in memory, written in Go.
//
// It implements engine.Vault and the optional engine.Statter,
// engine.MetadataSetter and engine.Tester, and follows the operation
// semantics of the extension ABI (abi/SPEC.md §4) exactly. It serves three
// purposes:
//
//   - the reference implementation the conformance suite
//     (package vaulttest) is checked against;
//   - the floor of the engine's benchmarks: the cost of an operation with no
//     sandbox, no encoding and no storage;
//   - a vault for tests and embedders that need one without a wasm module.
//
// A Go program mounts one beside its registered vaults:
//
//	e.Mount("mem", memvault.New(memvault.Options{Name: "mem"}))
//
// # Behaviour
//
// Set creates or replaces a secret. A nil metadata keeps the secret's
// metadata, an empty non-nil one clears it, any other replaces it whole.
// SetMetadata replaces the metadata of an existing secret.
//
// Without Options.CaseSensitive, names are compared with Unicode simple
// folding, as strings.EqualFold and abi.Match do. Setting a name that differs
// from a stored one only in case overwrites that secret and keeps the stored
// spelling, which Get, Stat and List report.
//
// With Options.NoMetadata the manifest declares no metadata support and omits
// set_metadata; Set then refuses non-empty metadata (abi.Unsupported) and
// Infos carry none.
//
// List filters with abi.Match under the vault's case rule and returns the
// matches sorted by name.
//
// # Copies and errors
//
// A Vault never keeps a reference to a slice or map it is given and never
// hands out one it keeps: values and metadata are deep-copied on the way in
// and on the way out.
//
// Errors wrap an abi.Status (abi.NotFound, abi.InvalidArgument,
// abi.TooLarge, abi.Unsupported), which the engine maps to its sentinels, or
// the context's error when ctx is done. They may name a secret, never a
// value. Set checks what the ABI encoder would check: a valid type, UTF-8
// text, hashtable entries (non-empty, unique keys, scalar values, at most
// abi.MaxHashtableKeys), the encoded size (abi.MaxValueBytes) and the
// metadata limits (abi.Metadata.Validate); names must be 1 to
// abi.MaxNameBytes bytes of UTF-8. Everything else about names (wildcards,
// control characters) is the engine's business.
//
// A Vault is safe for concurrent use; operations on one vault are atomic
// with respect to each other.
package memvault
