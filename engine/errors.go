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
	s := "cannot " + e.Op
	switch {
	case e.Secret != "" && e.Vault != "":
		s += fmt.Sprintf(" secret %q in vault %s", e.Secret, e.Vault)
	case e.Secret != "":
		s += fmt.Sprintf(" secret %q", e.Secret)
	case e.Vault != "":
		s += " vault " + e.Vault
	}
	return s + ": " + e.Err.Error()
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
	switch {
	case errors.As(err, &s):
		sentinel := statusErrors[s.Normalize()]
		if sentinel == nil {
			sentinel = ErrExtension
		}
		if detail := trimStatus(err.Error(), s); err.Error() != s.Error() && !sameFact(detail, sentinel) {
			// The extension's own words follow the status name; keep them.
			err = fmt.Errorf("%w (%s)", sentinel, detail)
		} else {
			err = sentinel
		}
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %w", ErrDeadline, err)
	case errors.Is(err, context.Canceled):
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Error{Op: op, Vault: vault, Secret: secret, Err: err}
}

// sameFact reports whether an extension's detail only repeats its
// sentinel ("the vault is locked" after "vault is locked"): one fact is said
// once.
func sameFact(detail string, sentinel error) bool {
	return strings.EqualFold(strings.TrimPrefix(strings.TrimSuffix(detail, "."), "the "), sentinel.Error())
}

// trimStatus drops a leading "status: " from a sandbox message.
func trimStatus(msg string, s abi.Status) string {
	p := s.Error() + ": "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}
