package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesamehq/sesame/abi"
)

// Sentinel errors. Every error the engine returns wraps one of them, so
// callers test with errors.Is, whatever vault or extension produced it.
var (
	ErrSecretNotFound      = errors.New("secret not found")
	ErrVaultNotFound       = errors.New("vault not found")
	ErrVaultExists         = errors.New("vault already registered")
	ErrNoDefaultVault      = errors.New("no vault given and no default vault")
	ErrNoClobber           = errors.New("secret already exists")
	ErrMetadataUnsupported = errors.New("vault does not support metadata")
	ErrInvalidName         = errors.New("invalid name")
	ErrInvalidValue        = errors.New("invalid value")
	ErrInvalidArgument     = errors.New("invalid argument")
	ErrPermissionDenied    = errors.New("permission denied")
	ErrLocked              = errors.New("vault is locked")
	ErrConflict            = errors.New("conflict")
	ErrUnsupported         = errors.New("operation not supported by the vault")
	ErrUnavailable         = errors.New("vault unavailable")
	ErrTooLarge            = errors.New("too large")
	ErrExtension           = errors.New("extension failed")
	ErrDeadline            = errors.New("deadline exceeded")
	ErrDeclined            = errors.New("declined")
	ErrRegistry            = errors.New("registry error")
)

// statusErrors is the one table that maps ABI status codes to sentinels.
var statusErrors = map[abi.Status]error{
	abi.NotFound:         ErrSecretNotFound,
	abi.InvalidArgument:  ErrInvalidArgument,
	abi.PermissionDenied: ErrPermissionDenied,
	abi.Locked:           ErrLocked,
	abi.Conflict:         ErrConflict,
	abi.Unsupported:      ErrUnsupported,
	abi.Unavailable:      ErrUnavailable,
	abi.TooLarge:         ErrTooLarge,
	abi.Internal:         ErrExtension,
	abi.DeadlineExceeded: ErrDeadline,
}

// Error names the operation, vault and secret of a failure. Err wraps a
// sentinel. Neither Error nor anything it wraps ever holds a secret value.
type Error struct {
	Op     string // "set", "get", "info", "remove", "register", …
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
	case errors.Is(e.Err, ErrMetadataUnsupported) && e.Op == "set":
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
	}
	return "cannot " + opWords(e.Op, object) + ": " + e.Err.Error()
}

// opPhrases says each operation in plain words, the one place where an
// operation's name becomes English: "cannot " + the phrase heads the
// message of an Error. In object, %s stands for what the operation acted
// on (vault V, or secret "N" in vault V); alone is the phrase when the
// Error names neither.
var opPhrases = map[string]struct{ object, alone string }{
	"open":         {"open %s", "open the vaults"},
	"mount":        {"mount %s", "mount the vault"},
	"set":          {"set %s", "set the secret"},
	"copy":         {"copy %s", "copy the secret"},
	"get":          {"get %s", "get the secret"},
	"info":         {"list the secrets of %s", "list the secrets"},
	"set-info":     {"change the metadata of %s", "change the metadata"},
	"remove":       {"remove %s", "remove the secret"},
	"register":     {"register %s", "register the vault"},
	"unregister":   {"unregister %s", "unregister the vault"},
	"set-default":  {"make %s the default", "set the default vault"},
	"vaults":       {"list the vaults", "list the vaults"},
	"manifest":     {"read the manifest of %s", "read the manifest"},
	"test":         {"test %s", "test the vault"},
	"unlock":       {"unlock %s", "unlock the vault"},
	"lock":         {"lock %s", "lock the vault"},
	"set-password": {"change the password of %s", "change the password"},
	// The agent's own requests, in an error from a broken connection.
	"status":  {"ask the sesame agent for its status", "ask the sesame agent for its status"},
	"stop":    {"stop the sesame agent", "stop the sesame agent"},
	"confirm": {"confirm the change", "confirm the change"},
}

// opWords returns the phrase of op about object ("" when the Error names
// nothing). An op missing from opPhrases, which a test prevents, is
// written as it is.
func opWords(op, object string) string {
	p, ok := opPhrases[op]
	switch {
	case !ok && object == "":
		return op
	case !ok:
		return op + " " + object
	case object == "":
		return p.alone
	case !strings.Contains(p.object, "%s"):
		return p.object
	}
	return fmt.Sprintf(p.object, object)
}

// wrapf builds an Error whose Err is sentinel followed by a detail.
func wrapf(op, vault, secret string, sentinel error, format string, args ...any) *Error {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	return &Error{Op: op, Vault: vault, Secret: secret, Err: err}
}

// vaultError wraps an error returned by a vault, mapping ABI statuses and
// context errors to sentinels.
func vaultError(op, vault, secret string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var s abi.Status
	var enc *abi.EncodeError
	switch {
	case errors.As(err, &enc) && errors.As(enc.Err, &s):
		// What the engine could not encode for the extension.
		err = fmt.Errorf("%w: %w", statusError(s), abiError{err})
	case errors.As(err, &s):
		if msg := err.Error(); msg != s.Error() {
			// The extension's own words follow the status name; keep them.
			err = fmt.Errorf("%w (%s)", statusError(s), trimStatus(msg, s))
		} else {
			err = statusError(s)
		}
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %w", ErrDeadline, err)
	case errors.Is(err, context.Canceled):
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Error{Op: op, Vault: vault, Secret: secret, Err: err}
}

// abiError is an error of package abi (an EncodeError or a DecodeError)
// told without its "abi: " prefix, which names a layer the user never
// meets: the layers above say what failed. It unwraps to the error.
type abiError struct{ err error }

func (e abiError) Error() string { return strings.TrimPrefix(e.err.Error(), "abi: ") }
func (e abiError) Unwrap() error { return e.err }

// statusError returns the sentinel of s; ErrExtension for a status the
// table does not know.
func statusError(s abi.Status) error {
	if sentinel := statusErrors[s.Normalize()]; sentinel != nil {
		return sentinel
	}
	return ErrExtension
}

// trimStatus drops a leading "status: " from a sandbox message.
func trimStatus(msg string, s abi.Status) string {
	p := s.Error() + ": "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}
