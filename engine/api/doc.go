// Package api is the vocabulary of the sesame engine without the engine:
// its operations' requests and results (GetRequest, Secret, Info, Action,
// Registration, …), the secret values (SecureString, Credential,
// Hashtable, Metadata), its errors (Error, the sentinel Codes,
// MissingGrants), and the Transport that carries a Call to whatever runs
// it.
//
// Package engine runs these operations and declares each of these names as
// an alias, so a program that opens an engine never needs this package. It
// exists for the programs that only send requests to an engine running
// elsewhere — the sesame command, when the sesame agent serves it, and the
// agent's client — and must not link the engine's sandbox (wazero), its
// storage (bbolt), its registry parser (TOML) or its age identity: each of
// those packages' initialisation would run in every command. A test keeps
// its imports to the standard library, package abi and the grant grammar
// (TestImportsNoEngine).
package api
