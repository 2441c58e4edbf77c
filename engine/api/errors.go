package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sesamehq/sesame/abi"
)

// Code is the kind of a failure: one enum for the whole engine. Its values
// 1 to 10 are the ABI's status codes (abi.Status, SPEC.md §6), the ones an
// extension returns; the engine's own kinds follow from 1000, clear of the
// codes a later ABI version may add. A Code is an error, and the sentinel
// errors below are Codes: errors.Is compares them as values, so an error
// that crosses a process boundary as its code (the sesame agent's wire) is
// the same sentinel on the other side.
type Code uint32

// Sentinel errors. Every error the engine returns wraps one of them, so
// callers test with errors.Is, whatever vault or extension produced it.
// Each is the Code of its kind; a new one needs its text in codeText (a
// test checks).
const (
	ErrSecretNotFound   = Code(abi.NotFound)
	ErrInvalidArgument  = Code(abi.InvalidArgument)
	ErrPermissionDenied = Code(abi.PermissionDenied)
	ErrLocked           = Code(abi.Locked)
	ErrConflict         = Code(abi.Conflict)
	ErrUnsupported      = Code(abi.Unsupported)
	ErrUnavailable      = Code(abi.Unavailable)
	ErrTooLarge         = Code(abi.TooLarge)
	ErrExtension        = Code(abi.Internal)
	ErrDeadline         = Code(abi.DeadlineExceeded)
)

// The engine's own kinds, which no extension returns.
const (
	ErrVaultNotFound Code = 1000 + iota
	ErrVaultExists
	ErrNoDefaultVault
	ErrNoClobber
	ErrMetadataUnsupported
	ErrInvalidName
	ErrInvalidValue
	ErrDeclined
	ErrRegistry
	endCodes // not a code: the end of the engine's range
)

// codeText is each Code's message.
var codeText = map[Code]string{
	ErrSecretNotFound:      "secret not found",
	ErrInvalidArgument:     "invalid argument",
	ErrPermissionDenied:    "permission denied",
	ErrLocked:              "vault is locked",
	ErrConflict:            "conflict",
	ErrUnsupported:         "operation not supported by the vault",
	ErrUnavailable:         "vault unavailable",
	ErrTooLarge:            "too large",
	ErrExtension:           "extension failed",
	ErrDeadline:            "deadline exceeded",
	ErrVaultNotFound:       "vault not found",
	ErrVaultExists:         "vault already registered",
	ErrNoDefaultVault:      "no vault given and no default vault",
	ErrNoClobber:           "secret already exists",
	ErrMetadataUnsupported: "vault does not support metadata",
	ErrInvalidName:         "invalid name",
	ErrInvalidValue:        "invalid value",
	ErrDeclined:            "declined",
	ErrRegistry:            "registry error",
}

// Codes returns every Code, in order: the ABI's statuses but OK, then the
// engine's own.
func Codes() []Code {
	var out []Code
	for s := abi.NotFound; s.Known(); s++ {
		out = append(out, Code(s))
	}
	for c := ErrVaultNotFound; c < endCodes; c++ {
		out = append(out, c)
	}
	return out
}

// Error returns the Code's message.
func (c Code) Error() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	return "error " + strconv.FormatUint(uint64(c), 10)
}

// Error names the operation, vault and secret of a failure. Err wraps a
// sentinel. Neither Error nor anything it wraps ever holds a secret value.
type Error struct {
	Op     Op
	Vault  string // "" when no vault is involved
	Secret string // "" when no secret is involved
	Err    error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	// The two messages of the Set-Secret reference page, word for word.
	switch {
	case errors.Is(e.Err, ErrNoClobber):
		return fmt.Sprintf("A secret with name %s already exists in vault %s.", e.Secret, e.Vault)
	case errors.Is(e.Err, ErrMetadataUnsupported) && e.Op == OpSet:
		return fmt.Sprintf("Can't store secret %s. Vault %s doesn't support secret metadata.", e.Secret, e.Vault)
	}
	var object string
	switch {
	case e.Secret != "" && e.Vault != "":
		object = fmt.Sprintf("secret %q in vault %s", e.Secret, e.Vault)
	case e.Secret != "":
		object = fmt.Sprintf("secret %q", e.Secret)
	case e.Vault != "":
		object = "vault " + e.Vault
		if p, ok := vaultPhrases[e.Op]; ok {
			return "cannot " + fmt.Sprintf(p, object) + ": " + e.Err.Error()
		}
	}
	return "cannot " + opWords(e.Op, object) + ": " + e.Err.Error()
}

// opPhrases says each operation in plain words, the one place where an
// operation's name becomes English: "cannot " + the phrase heads the
// message of an Error. In object, %s stands for what the operation acted
// on (vault V, or secret "N" in vault V); alone is the phrase when the
// Error names neither.
var opPhrases = map[Op]struct{ object, alone string }{
	"open":            {"open %s", "open the vaults"},
	"mount":           {"mount %s", "mount the vault"},
	"set":             {"set %s", "set the secret"},
	"copy":            {"copy %s", "copy the secret"},
	"get":             {"get %s", "get the secret"},
	"info":            {"list the secrets of %s", "list the secrets"},
	"set-info":        {"change the metadata of %s", "change the metadata"},
	"remove":          {"remove %s", "remove the secret"},
	"register":        {"register %s", "register the vault"},
	"unregister":      {"unregister %s", "unregister the vault"},
	"unregister-hook": {"run the unregister hook of %s", "run the unregister hook"},
	"set-default":     {"make %s the default", "set the default vault"},
	"vaults":          {"list the vaults", "list the vaults"},
	"manifest":        {"read the manifest of %s", "read the manifest"},
	"test":            {"test %s", "test the vault"},
	"unlock":          {"unlock %s", "unlock the vault"},
	"lock":            {"lock %s", "lock the vault"},
	"set-password":    {"change the password of %s", "change the password"},
	"rekey":           {"give %s a new key", "give the vault a new key"},
	"import":          {"import %s", "import the secrets"},

	"identity": {"read your age identity from %s", "read your age identity"},
	"members":  {"manage the members of %s", "manage the members"},
	// The agent's own requests, in an error from a broken connection.
	"status":  {"ask the sesame agent for its status", "ask the sesame agent for its status"},
	"stop":    {"stop the sesame agent", "stop the sesame agent"},
	"confirm": {"confirm the change", "confirm the change"},
	"env":     {"send the granted environment variables", "send the granted environment variables"},
}

// vaultPhrases are the phrases of the operations about secrets whose Error
// may name only the vault, where opPhrases' object would misread ("cannot
// import vault V").
var vaultPhrases = map[Op]string{
	OpImport: "import into %s",
}

// opWords returns the phrase of op about object ("" when the Error names
// nothing). An op missing from opPhrases, which a test prevents, is
// written as it is.
func opWords(op Op, object string) string {
	p, ok := opPhrases[op]
	switch {
	case !ok && object == "":
		return string(op)
	case !ok:
		return string(op) + " " + object
	case object == "":
		return p.alone
	case !strings.Contains(p.object, "%s"):
		return p.object
	}
	return fmt.Sprintf(p.object, object)
}

// MissingGrants returns the grants (abi.GrantStorage, abi.GrantDirectory,
// abi.GrantEnv, ...) that a vault's extension asks for in its manifest and
// its registration does not give, when err is the refusal to load it, so
// that a program can name how to give them. It works alike on an error from
// the sesame agent. What an extension says in its own error messages is
// never taken for it.
func MissingGrants(err error) []string {
	var g interface{ MissingGrants() []string }
	if errors.As(err, &g) {
		return g.MissingGrants()
	}
	return nil
}
