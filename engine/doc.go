// Package engine carries the semantics of secret management — named secrets
// of five value types with metadata, kept in vaults — over vaults that are
// WebAssembly extensions run in a sandbox, or native Go values.
//
// # Use
//
// Open an Engine on a registry file (vaults.toml), then call its
// operations. They follow PowerShell SecretManagement's cmdlets:
//
//	Set      Set-Secret (a value of any type, or a SecureString)
//	Copy     Set-Secret -SecretInfo (copy between vaults, metadata carried)
//	Get      Get-Secret (default vault first, then the others by name)
//	Info     Get-SecretInfo (names with * and ?)
//	SetInfo  Set-SecretInfo (replaces the metadata)
//	Remove   Remove-Secret (a vault is required)
//	Register, Unregister, Vaults, SetDefault, Test, Unlock, and Lock
//
// Set checks everything before it asks the vault to write: the name (no
// wildcards, no control characters, at most 256 bytes), the value's type,
// the metadata's types, whether the vault supports metadata, and — asking
// the vault — whether the name exists, for NoClobber and for the Action that
// WhatIf reports and Confirm is asked about. A failure never loses the
// secret that was there before.
//
// Values are []byte, string, SecureString, Credential or Hashtable; metadata
// values are string, an integer or time.Time.
//
// Each method of an operation takes the context first and the operation's
// request type (GetRequest, SetRequest, …, listed by Operations), which
// holds all its parameters: the vault in its Vault field, WhatIf and Confirm
// in its embedded Change when it writes. The same request runs over any
// Transport with Do: the Engine itself, in the process, or the sesame
// agent's engine (internal/agent), with the same results and errors:
//
//	sec, err := e.Get(ctx, engine.GetRequest{Name: "token", Vault: "LocalStore"})
//	sec, err = engine.Do(ctx, t, engine.GetRequest{Name: "token", Vault: "LocalStore"})
//
// # Errors
//
// Every error is an *Error naming the operation, vault and secret, and wraps
// a sentinel (ErrSecretNotFound, ErrNoClobber, ErrLocked, …), whether the
// vault is native or an extension. The sentinels are the values of one enum,
// Code, whose first values are the ABI's status codes: the status an
// extension answers with is the sentinel of its number. No error carries a
// secret value.
//
// # Vaults
//
// A registered vault runs an extension — "builtin:NAME" or a .wasm file —
// with only what its registration grants: a private storage area on disk, a
// folder, environment variables, and limits on memory, time and instances.
// Extensions are loaded on first use and compiled once per machine (the
// compiled code is cached under Options.CacheDir, each entry sealed with a
// key kept in the config folder, Options.CacheKey, and checked before use).
// The registry, the storage files and the cache are used only when no one
// but the user or root can write them or a folder above them; an error
// names the path and the chmod or chown that fixes it. A Go program can also
// Mount a Vault of its own. Package vaulttest checks that a Vault behaves.
//
// A storage area belongs to the vault's name and extension reference (see
// StorageFile): another extension registered under the name gets an area of
// its own unless RegisterRequest.KeepStorage hands the old one over, and
// Unregister keeps the area on disk unless told to remove it.
//
// An Engine is safe for concurrent use, and many processes may use the same
// registry and vaults at once: registry writes are locked and atomic, and
// storage areas are transactional.
package engine
