package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/registry"
)

// Registration is one vault of the registry: Register-SecretVault's
// arguments, and what Vaults returns.
type Registration struct {
	Name        string
	Extension   string         // "builtin:NAME", or a .wasm path relative to the registry file
	SHA256      string         // optional pin of the module's bytes (lowercase hex)
	Description string         // free text
	Parameters  map[string]any // handed to the extension; string, int64, float64 or bool
	Grants      Grants
	Default     bool // the default vault (in Vaults' results)
	Mounted     bool // an in-process vault attached with Mount (in Vaults' results)
}

// Grants are what an extension may use; everything else is denied.
type Grants struct {
	Storage   bool          // a private key-value storage area
	Directory string        // a host folder mounted at /data ("" = none)
	ReadOnly  bool          // mount Directory read-only
	Env       []string      // environment variables the extension may read
	Memory    uint64        // bytes of memory per instance (0 = 64 MiB)
	Timeout   time.Duration // deadline per call (0 = 5s)
	Instances int           // instances kept per vault (0 = 4)
}

// RegisterOptions are the options of Register.
type RegisterOptions struct {
	AllowClobber bool // replace a vault registered under the same name
	Default      bool // make it the default vault (the first vault always is)
}

// Register adds a vault to the registry: Register-SecretVault. The
// extension is loaded and checked against the ABI first; nothing is written
// when it does not load. The first vault of a registry becomes the default.
func (e *Engine) Register(ctx context.Context, r Registration, opts RegisterOptions) error {
	const op = "register"
	if err := checkVaultName(op, r.Name); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mounted[strings.ToLower(r.Name)] != nil {
		return wrapf(op, r.Name, "", ErrVaultExists, "an in-process vault has that name")
	}
	cfg := registry.Vault{
		Name: r.Name, Extension: r.Extension, SHA256: strings.ToLower(r.SHA256),
		Description: r.Description, Parameters: r.Parameters, Grants: registry.Grants(r.Grants),
	}
	var checked *loaded // the extension as loaded to check it, kept for use
	reg, err := registry.Update(ctx, e.path, func(reg *registry.Registry) error {
		if err := reg.Put(cfg, opts.AllowClobber); err != nil {
			return err
		}
		if err := reg.Validate(); err != nil {
			return err
		}
		// Check the extension before anything is written.
		v, _ := reg.Lookup(cfg.Name)
		l, err := e.load(ctx, reg, *v)
		if err != nil {
			return err
		}
		checked = l
		if opts.Default || reg.Default == "" {
			return reg.SetDefault(cfg.Name)
		}
		return nil
	})
	if err != nil {
		if checked != nil {
			checked.close()
		}
		return registryError(op, r.Name, err)
	}
	e.adoptWritten(reg)
	// A vault of the same registration still loaded (an identical clobber)
	// stays; otherwise the checked instance serves the first use.
	if key := strings.ToLower(cfg.Name); e.vaults[key] == nil {
		e.vaults[key] = checked
	} else {
		checked.close()
	}
	return nil
}

// adoptWritten takes the registry just written by Update as current.
func (e *Engine) adoptWritten(reg *registry.Registry) {
	var stamp fileStamp
	if st, err := os.Stat(e.path); err == nil {
		stamp = stampOf(st)
	}
	e.adopt(reg, stamp)
}

func registryError(op, vault string, err error) error {
	var ee *Error
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, registry.ErrVaultExists):
		return wrapf(op, vault, "", ErrVaultExists, "")
	case errors.Is(err, registry.ErrVaultNotFound):
		return wrapf(op, vault, "", ErrVaultNotFound, "")
	case errors.Is(err, ErrExtension), errors.Is(err, ErrUnavailable):
		return &Error{Op: op, Vault: vault, Err: err}
	}
	return &Error{Op: op, Vault: vault, Err: fmt.Errorf("%w: %w", ErrRegistry, err)}
}

// Unregister removes a vault from the registry. Its stored secrets stay on
// disk. Unregistering the default vault leaves no default.
func (e *Engine) Unregister(ctx context.Context, name string) error {
	const op = "unregister"
	e.mu.Lock()
	defer e.mu.Unlock()
	if key := strings.ToLower(name); e.mounted[key] != nil {
		delete(e.mounted, key)
		delete(e.names, key)
		return nil
	}
	reg, err := registry.Update(ctx, e.path, func(reg *registry.Registry) error { return reg.Remove(name) })
	if err != nil {
		return registryError(op, name, err)
	}
	e.adoptWritten(reg)
	return nil
}

// SetDefault makes name the default vault; "" clears the default.
func (e *Engine) SetDefault(ctx context.Context, name string) error {
	const op = "set-default"
	e.mu.Lock()
	defer e.mu.Unlock()
	if name != "" && e.mounted[strings.ToLower(name)] != nil {
		return wrapf(op, name, "", ErrInvalidArgument, "an in-process vault cannot be the default")
	}
	reg, err := registry.Update(ctx, e.path, func(reg *registry.Registry) error { return reg.SetDefault(name) })
	if err != nil {
		return registryError(op, name, err)
	}
	e.adoptWritten(reg)
	return nil
}

// Vaults lists the registered vaults by name, and the mounted ones.
func (e *Engine) Vaults() ([]Registration, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refreshLocked(); err != nil {
		return nil, err
	}
	var out []Registration
	for _, v := range e.reg.Vaults {
		out = append(out, Registration{
			Name: v.Name, Extension: v.Extension, SHA256: v.SHA256, Description: v.Description,
			Parameters: v.Parameters, Grants: Grants(v.Grants), Default: v.Name == e.reg.Default,
		})
	}
	for key, n := range e.names {
		out = append(out, Registration{Name: n, Extension: "native", Description: e.mounted[key].Manifest().Description, Mounted: true})
	}
	return out, nil
}

// DefaultVault returns the default vault's name, or "".
func (e *Engine) DefaultVault() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refreshLocked()
	return e.reg.Default
}

// Manifest loads vault and returns what its extension declares.
func (e *Engine) Manifest(ctx context.Context, vault string) (abi.Manifest, error) {
	vt, _, err := e.target(ctx, "describe", "", vault)
	if err != nil {
		return abi.Manifest{}, err
	}
	return vt.Manifest(), nil
}

// Test checks that a vault works: its extension loads, and its own test
// passes (or, without one, it can list its secrets).
func (e *Engine) Test(ctx context.Context, vault string) error {
	const op = "test"
	vt, canon, err := e.target(ctx, op, "", vault)
	if err != nil {
		return err
	}
	if t, ok := vt.(Tester); ok && supports(vt, abi.OpTest) {
		return vaultError(op, canon, "", t.Test(ctx))
	}
	if supports(vt, abi.OpList) {
		_, err := vt.List(ctx, "*")
		return vaultError(op, canon, "", err)
	}
	return nil
}

// Unlock gives a password-protected vault its password.
func (e *Engine) Unlock(ctx context.Context, vault string, password []byte) error {
	l, canon, err := e.locker(ctx, "unlock", vault)
	if err != nil {
		return err
	}
	return vaultError("unlock", canon, "", l.Unlock(ctx, password))
}

// Lock makes a vault forget its keys at once.
func (e *Engine) Lock(ctx context.Context, vault string) error {
	l, canon, err := e.locker(ctx, "lock", vault)
	if err != nil {
		return err
	}
	return vaultError("lock", canon, "", l.Lock(ctx))
}

// SetPassword changes (or, with an empty old, sets) a vault's password.
func (e *Engine) SetPassword(ctx context.Context, vault string, old, new []byte) error {
	const op = "set-password"
	vt, canon, err := e.target(ctx, op, "", vault)
	if err != nil {
		return err
	}
	p, ok := vt.(PasswordSetter)
	if !ok || !supports(vt, abi.OpSetPassword) {
		return wrapf(op, canon, "", ErrUnsupported, "the vault has no password")
	}
	return vaultError(op, canon, "", p.SetPassword(ctx, old, new))
}

func (e *Engine) locker(ctx context.Context, op, vault string) (Locker, string, error) {
	vt, canon, err := e.target(ctx, op, "", vault)
	if err != nil {
		return nil, "", err
	}
	l, ok := vt.(Locker)
	if !ok || !supports(vt, abi.Op(op)) {
		return nil, "", wrapf(op, canon, "", ErrUnsupported, "the vault has no password to %s", op)
	}
	return l, canon, nil
}

// Vault returns the vault registered (or mounted) under name, loading its
// extension. It is how a program runs the conformance suite of
// engine/vaulttest, or calls a vault directly, below the engine's checks.
func (e *Engine) Vault(ctx context.Context, name string) (Vault, error) {
	vt, _, err := e.target(ctx, "open", "", name)
	return vt, err
}

// Set sets one grant from its text form, with the grammar and limits of
// vaults.toml: storage=true, directory=FOLDER, read_only=true,
// env=NAME,NAME, memory=64MiB, timeout=5s, instances=4. Errors wrap
// ErrInvalidArgument.
func (g *Grants) Set(key, value string) error {
	rg := registry.Grants(*g)
	if err := registry.ParseGrant(&rg, key, value); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	*g = Grants(rg)
	return nil
}
