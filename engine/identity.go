package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
)

// Identity returns the user's age recipient (age1…), the public half of
// the identity kept as IdentitySecret in the default vault, which it makes
// there when absent. The identity itself is never returned. Errors: no
// default vault (ErrNoDefaultVault), the default vault locked (ErrLocked,
// naming it), the default vault granted identity itself
// (ErrInvalidArgument: it could not be opened without what it keeps), a
// secret of that name that is not an age identity (ErrInvalidValue).
func (e *Engine) Identity(ctx context.Context) (string, error) {
	id, err := e.identity(ctx)
	if err != nil {
		return "", err
	}
	return id.Recipient().String(), nil
}

// identity reads the user's age identity from the default vault, making
// and keeping it there first when absent. Of two processes making it at
// once, one writes it (no clobber) and both use that one.
func (e *Engine) identity(ctx context.Context) (*age.X25519Identity, error) {
	vault, err := e.identityVault(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s, err := e.Get(ctx, GetRequest{Name: IdentitySecret, Vault: vault})
		if err == nil {
			return parseIdentity(vault, s.Value)
		}
		if !errors.Is(err, ErrSecretNotFound) || attempt > 0 {
			return nil, identityError(vault, err)
		}
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, &Error{Op: OpIdentity, Vault: vault, Err: fmt.Errorf("%w: making an age identity: %w", ErrUnavailable, err)}
		}
		_, err = e.Set(ctx, SetRequest{Name: IdentitySecret, Vault: vault, Value: id.String(), NoClobber: true})
		switch {
		case err == nil:
			// Once per user: said, since losing it loses every team vault.
			e.opts.Logger.WarnContext(ctx, "made your age identity and kept it as the secret "+IdentitySecret+"; back it up (sesame identity --help says how)", "vault", vault)
			return id, nil
		case !errors.Is(err, ErrNoClobber):
			return nil, identityError(vault, err)
		}
		// Another process made it a moment ago: read that one.
	}
}

// identityVault returns the default vault, which keeps the identity, or an
// error when there is none or it is granted identity itself (to open it
// the engine would need the identity it keeps).
func (e *Engine) identityVault(ctx context.Context) (string, error) {
	vault, err := e.DefaultVault(ctx)
	if err != nil {
		return "", err
	}
	if vault == "" {
		return "", wrapf(OpIdentity, "", IdentitySecret, ErrNoDefaultVault, "your age identity is kept in the default vault")
	}
	e.mu.Lock()
	cfg, ok := e.reg.Lookup(vault)
	e.mu.Unlock()
	if ok && cfg.Grants.Identity {
		return "", wrapf(OpIdentity, vault, IdentitySecret, ErrInvalidArgument,
			"the default vault keeps your age identity, and is itself granted identity, so it would need the identity to open; make a local vault the default")
	}
	return vault, nil
}

// identityError is err, from reading or writing the identity in vault,
// told as a failure to read the identity: the innermost error still names
// the vault (locked, say), so that the unlock prompt finds the right one.
func identityError(vault string, err error) error {
	return &Error{Op: OpIdentity, Vault: vault, Secret: IdentitySecret, Err: innermost(err)}
}

// innermost returns the cause of an engine Error, without its operation
// and names, which identityError says once.
func innermost(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e.Err
	}
	return err
}

// parseIdentity reads the identity in the secret's value v.
func parseIdentity(vault string, v any) (*age.X25519Identity, error) {
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case SecureString:
		text = string(v)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(text))
	if err != nil {
		// err quotes nothing of the value, but it is not needed either.
		return nil, wrapf(OpIdentity, vault, IdentitySecret, ErrInvalidValue, "the secret is not an age identity (AGE-SECRET-KEY-1…)")
	}
	return id, nil
}
