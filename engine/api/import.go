package api

// ImportSecret is one secret of an ImportRequest.
type ImportSecret struct {
	Name     string
	Value    any      // a []byte, string, SecureString, Credential or Hashtable
	Metadata Metadata // nil: none given (a replaced secret keeps its metadata)
}

// ImportResult says what Import did with a batch or, with WhatIf, would do.
type ImportResult struct {
	Vault string // the vault written, as registered
	// Actions are the secrets the batch writes, in order: each an OpSet
	// Action, Replace telling a replaced secret from a new one.
	Actions []Action
	// Unchanged counts the secrets left as they were: already stored with
	// the same type and value (and the same metadata, when some is given).
	Unchanged int
	// Failed is, on an error about one secret, its index in
	// ImportRequest.Secrets plus one; 0 when the error is not about one
	// secret (the vault, the commit).
	Failed int
	// Partial is true, with an error, when secrets of the batch before
	// Failed may have been written: the vault failed while writing, and it
	// writes elsewhere than only its host storage area (a directory, an
	// in-process vault), which the batch cannot take back. Otherwise an
	// error means nothing of the batch was written.
	Partial bool
}
