// Package grant is the grammar of a vault's grants — their fields, their
// text form on a command line (Parse), their limits — apart from the
// registry file's TOML: the engine's API (package engine/api) sets grants
// from text in the sesame command, which must not link a TOML parser.
// Package registry reads and writes them in vaults.toml with the same
// rules.
package grant
