package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
)

// Code is the kind of a failure (api.Code); Error names the operation,
// vault and secret of one (api.Error).
type (
	Code  = api.Code
	Error = api.Error
)

// Sentinel errors: every error the engine returns wraps one (api.Code).
const (
	ErrSecretNotFound      = api.ErrSecretNotFound
	ErrInvalidArgument     = api.ErrInvalidArgument
	ErrPermissionDenied    = api.ErrPermissionDenied
	ErrLocked              = api.ErrLocked
	ErrConflict            = api.ErrConflict
	ErrUnsupported         = api.ErrUnsupported
	ErrUnavailable         = api.ErrUnavailable
	ErrTooLarge            = api.ErrTooLarge
	ErrExtension           = api.ErrExtension
	ErrDeadline            = api.ErrDeadline
	ErrVaultNotFound       = api.ErrVaultNotFound
	ErrVaultExists         = api.ErrVaultExists
	ErrNoDefaultVault      = api.ErrNoDefaultVault
	ErrNoClobber           = api.ErrNoClobber
	ErrMetadataUnsupported = api.ErrMetadataUnsupported
	ErrInvalidName         = api.ErrInvalidName
	ErrInvalidValue        = api.ErrInvalidValue
	ErrDeclined            = api.ErrDeclined
	ErrRegistry            = api.ErrRegistry
)

// Codes returns every Code, in order (api.Codes).
func Codes() []Code { return api.Codes() }

// MissingGrants returns the grants a vault's extension asks for and its
// registration does not give, when err is the refusal to load it
// (api.MissingGrants).
func MissingGrants(err error) []string { return api.MissingGrants(err) }

// codeOf returns the sentinel of an ABI status: the Code of the same
// number, and ErrExtension for a status this ABI version does not know
// (SPEC.md §6).
func codeOf(s abi.Status) Code {
	if s == abi.OK {
		return ErrExtension // an extension that failed with "ok"
	}
	return Code(s.Normalize())
}

// wrapf builds an Error whose Err is sentinel followed by a detail.
func wrapf(op Op, vault, secret string, sentinel error, format string, args ...any) *Error {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	return &Error{Op: op, Vault: vault, Secret: secret, Err: err}
}

// vaultError wraps an error returned by a vault, mapping ABI statuses and
// context errors to sentinels.
func vaultError(op Op, vault, secret string, err error) error {
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
		err = fmt.Errorf("%w: %w", codeOf(s), abiError{err})
	case errors.As(err, &s):
		sentinel := codeOf(s)
		if detail := trimStatus(err.Error(), s); err.Error() != s.Error() && !sameFact(detail, sentinel) {
			// The extension's own words follow the status name; keep them.
			err = fmt.Errorf("%w (%s)", sentinel, detail)
		} else {
			err = codeOf(s)
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
