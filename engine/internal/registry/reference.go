package registry

import (
	"errors"
	"strconv"
	"strings"
)

// RefPrefix begins a parameter value that refers to a secret of another
// vault: sesame:VAULT/NAME. The engine hands the extension the secret's
// text instead; the registry keeps the reference.
const RefPrefix = "sesame:"

// Ref is a secret reference: the secret Name of vault Vault.
type Ref struct{ Vault, Name string }

// String writes the reference as a parameter holds it.
func (r Ref) String() string { return RefPrefix + r.Vault + "/" + r.Name }

// SecretRef reports whether the parameter value v is a secret reference
// (it starts with RefPrefix) and reads it. A value that starts with the
// prefix and does not read as sesame:VAULT/NAME (a valid vault name, a
// slash, a non-empty secret name) is an error: it is never handed to an
// extension as text. The vault name cannot hold a slash, so the first one
// ends it; the secret name may hold more ("sesame:Local/db/password").
func SecretRef(v string) (Ref, bool, error) {
	rest, ok := strings.CutPrefix(v, RefPrefix)
	if !ok {
		return Ref{}, false, nil
	}
	vault, name, _ := strings.Cut(rest, "/")
	switch {
	case !ValidName(vault):
		return Ref{}, true, errors.New("a secret reference is sesame:VAULT/NAME, and " + quoteName(vault) + " is not a vault name")
	case name == "" || textProblem(name) != "":
		return Ref{}, true, errors.New("a secret reference is sesame:VAULT/NAME, with the secret's name after the slash")
	}
	return Ref{Vault: vault, Name: name}, true, nil
}

// quoteName quotes s for a message (control characters escaped), or says
// it is empty.
func quoteName(s string) string {
	if s == "" {
		return "an empty name"
	}
	return strconv.Quote(s)
}
