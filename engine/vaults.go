package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/registry"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Register adds the vault req.Registration to the registry:
// Register-SecretVault. The extension is loaded and checked against the ABI
// first; nothing is written when it does not load. The first vault of a
// registry becomes the default.
//
// The storage area belongs to the vault's name and extension (see
// StorageFile): a vault registered again with the same extension keeps its
// area, or gets back the one it had; another extension gets a new one,
// unless req.KeepStorage hands the current one over. The area left behind
// stays on disk, untouched.
//
// The extension loads with no lock held, neither the engine's nor the
// registry file's: a module that is slow to start delays this registration
// alone, not the other vaults' callers nor another registration. The
// storage is settled under the registry's lock before it loads, and the
// registration written under the lock after, only if the name's
// registration is still the one the storage was settled for.
func (e *Engine) Register(ctx context.Context, req RegisterRequest) error {
	const op = OpRegister
	r := req.Registration
	if err := checkVaultName(op, r.Name); err != nil {
		return err
	}
	cfg := registry.Vault{
		Name: r.Name, Extension: r.Extension, SHA256: strings.ToLower(r.SHA256),
		Description: r.Description, Parameters: r.Parameters, Grants: registry.Grants(r.Grants),
		NoSearch: r.NoSearch,
	}
	if req.Pin && strings.HasPrefix(r.Extension, "builtin:") {
		return wrapf(op, r.Name, "", ErrInvalidArgument, "%s is not pinned: a builtin extension changes with each sesame upgrade, which a pin would then refuse", r.Extension)
	}
	e.mu.Lock()
	mounted := e.mounted[strings.ToLower(r.Name)] != nil
	err := e.refreshNowLocked()
	reg := e.reg
	e.mu.Unlock()
	switch {
	case mounted:
		return wrapf(op, r.Name, "", ErrVaultExists, "an in-process vault has that name")
	case err != nil:
		return err
	}
	if req.Pin && cfg.SHA256 == "" {
		// The load below reads the file again and checks this pin: a file
		// replaced in between is refused, never pinned unseen.
		wasm, err := e.moduleBytes(ctx, reg, cfg.Extension)
		if err != nil {
			return registryError(op, r.Name, err)
		}
		cfg.SHA256 = ModuleSHA256(wasm)
	}
	// Refuse what the registry would refuse before loading anything, and
	// take the registration as the registry stores it (normalised).
	scratch := &registry.Registry{Path: reg.Path, Default: reg.Default, Vaults: slices.Clone(reg.Vaults)}
	if err := scratch.Put(cfg, req.AllowClobber); err != nil {
		return registryError(op, r.Name, err)
	}
	v, _ := scratch.Lookup(cfg.Name)
	cfg = *v

	var (
		old    *registry.Vault // the registration replaced, if any
		report StorageReport
		undo   = func() {} // undoes registerStorage when the registration fails
	)
	err = registry.Inspect(ctx, e.path, func(reg *registry.Registry) (err error) {
		if v, ok := reg.Lookup(cfg.Name); ok {
			copied := *v
			old = &copied
		}
		if err := e.settleLegacy(op, old); err != nil {
			return err
		}
		report, undo, err = e.registerStorage(old, cfg, req.KeepStorage)
		return err
	})
	if err != nil {
		return registryError(op, r.Name, err)
	}
	fail := func(err error) error {
		// Put the storage back under the lock, even when ctx is done;
		// unless a registration written meanwhile (another process's, of
		// the same name and extension) now uses that file: it is theirs.
		registry.Inspect(context.WithoutCancel(ctx), e.path, func(reg *registry.Registry) error {
			if v, ok := reg.Lookup(cfg.Name); ok && v.Grants.Storage && report.Path != "" &&
				StorageFile(e.opts.DataDir, v.Name, v.Extension) == report.Path {
				return nil
			}
			undo()
			return nil
		})
		return registryError(op, r.Name, err)
	}
	checked, err := e.load(ctx, reg, cfg)
	if err != nil {
		return fail(err)
	}
	err = e.update(ctx, func(reg *registry.Registry) error {
		cur, ok := reg.Lookup(cfg.Name)
		changed := ok != (old != nil) || ok && !reflect.DeepEqual(*cur, *old)
		if err := reg.Put(cfg, req.AllowClobber); err != nil {
			return err // registered meanwhile, and no clobber: as if it had been there
		}
		if changed {
			return wrapf(op, cfg.Name, "", ErrUnavailable, "another process changed the vault's registration while its extension was checked; try again")
		}
		if err := reg.Validate(); err != nil {
			return err
		}
		if req.Default || reg.Default == "" {
			return reg.SetDefault(cfg.Name)
		}
		return nil
	})
	if err != nil {
		checked.close()
		return fail(err)
	}
	if req.Report != nil && (report.Outcome != 0 || report.Left != "") {
		req.Report(report)
	}
	e.mu.Lock()
	key := strings.ToLower(cfg.Name)
	h := e.vaults[key]
	if h == nil && !e.closed {
		h = newHandle()
		e.vaults[key] = h
	}
	e.mu.Unlock()
	// The checked extension serves the first use, unless the vault of an
	// identical registration is still loaded.
	if h == nil || !h.offer(checked) {
		checked.close()
	}
	return nil
}

// update changes the registry file with fn, under the file's lock and not
// the engine's, then reads it again, so that the engine sees the newest
// registry whichever order concurrent updates finish in; the other engines
// of the process see it at their next operation (processWrites). Its error is the
// change's alone: once the file is written, the callers' undo must not run.
// A failed reread (or a closed engine) leaves the stamp cleared, so the next
// operation reads the file again and reports what is wrong with it.
func (e *Engine) update(ctx context.Context, fn func(*registry.Registry) error) error {
	_, err := registry.Update(ctx, e.path, fn)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		// fn saw the file as it is (ErrVaultExists: another process
		// registered the name): the next operation looks at it too.
		e.fresh.expire()
		return err
	}
	processWrites.Add(1)
	e.stamp = fileStamp{}
	e.fresh.expire()
	if !e.closed {
		e.refresh()
	}
	return nil
}

func registryError(op Op, vault string, err error) error {
	var ee *Error
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, registry.ErrVaultExists):
		return wrapf(op, vault, "", ErrVaultExists, "")
	case errors.Is(err, registry.ErrVaultNotFound):
		return wrapf(op, vault, "", ErrVaultNotFound, "")
	case errors.Is(err, ErrExtension), errors.Is(err, ErrUnavailable), errors.Is(err, ErrInvalidArgument):
		// The extension's failure to load (a secret reference that
		// cannot be resolved among them), not the registry's.
		return &Error{Op: op, Vault: vault, Err: err}
	}
	return &Error{Op: op, Vault: vault, Err: fmt.Errorf("%w: %w", ErrRegistry, err)}
}

// Unregister removes vault r.Vault from the registry. Its storage area stays
// on disk, where registering the name again with the same extension finds
// it, unless r.RemoveStorage deletes it. Unregistering the default vault
// leaves no default.
//
// First it runs the vault's unregister hook, when its extension exports one
// (SPEC.md §4), so that the vault can clean up what it keeps elsewhere. A
// hook that fails stops the unregister with an *Error whose Op is
// OpUnregisterHook, and nothing changes, unless r.Force. An extension
// that does not load cannot run its hook: the unregister goes on, and a
// warning says so.
func (e *Engine) Unregister(ctx context.Context, r UnregisterRequest) error {
	const op = OpUnregister
	name := r.Vault
	e.mu.Lock()
	if key := strings.ToLower(name); e.mounted[key] != nil {
		delete(e.mounted, key)
		delete(e.names, key)
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	if err := e.unregisterHook(ctx, name, r); err != nil {
		return err
	}
	var (
		report       StorageReport
		commit, undo func() error
	)
	err := e.update(ctx, func(reg *registry.Registry) (err error) {
		v, ok := reg.Lookup(name)
		if !ok {
			return reg.Remove(name) // its error
		}
		old := *v
		if err := e.settleLegacy(op, &old); err != nil {
			return err
		}
		if err := reg.Remove(name); err != nil {
			return err
		}
		report, commit, undo, err = e.unregisterStorage(old, r.RemoveStorage)
		return err
	})
	if err != nil {
		if undo != nil {
			undo()
		}
		return registryError(op, name, err)
	}
	// update adopted the new registry, which closed the vault's store.
	if err := commit(); err != nil {
		return wrapf(op, report.Vault, "", ErrUnavailable, "the vault is unregistered, but its storage was not removed: %v", err)
	}
	if r.Report != nil && report.Outcome != 0 {
		r.Report(report)
	}
	return nil
}

// unregisterHook runs the unregister hook of the registered vault name, if
// its extension has one. A name not registered is left to the registry's
// refusal.
func (e *Engine) unregisterHook(ctx context.Context, name string, r UnregisterRequest) error {
	const op = OpUnregisterHook
	e.mu.Lock()
	err := e.refreshNowLocked()
	canon := ""
	if err == nil {
		if v, ok := e.reg.Lookup(name); ok {
			canon = v.Name
		}
	}
	e.mu.Unlock()
	if canon == "" {
		return nil
	}
	vt, err := e.open(ctx, op, canon)
	if err != nil {
		reason := err
		if u := errors.Unwrap(err); u != nil {
			reason = u // the Error's own words name the vault again
		}
		e.opts.Logger.WarnContext(ctx, "its extension does not load, so it could not clean up (its unregister hook, if it has one, did not run)", "vault", canon, "reason", reason.Error())
		return nil
	}
	u, ok := vt.(Unregisterer)
	if !ok || !supports(vt, abi.OpUnregister) {
		return nil
	}
	err = vaultError(op, canon, "", u.Unregister(ctx, r.RemoveStorage))
	if err != nil && r.Force {
		e.opts.Logger.WarnContext(ctx, "unregistered although its unregister hook failed: what it keeps outside its storage may remain", "vault", canon, "reason", errors.Unwrap(err).Error())
		return nil
	}
	return err
}

// SetDefault makes r.Vault the default vault; "" clears the default.
func (e *Engine) SetDefault(ctx context.Context, r SetDefaultRequest) error {
	const op = OpSetDefault
	name := r.Vault
	e.mu.Lock()
	mounted := name != "" && e.mounted[strings.ToLower(name)] != nil
	e.mu.Unlock()
	if mounted {
		return wrapf(op, name, "", ErrInvalidArgument, "an in-process vault cannot be the default")
	}
	if err := e.update(ctx, func(reg *registry.Registry) error { return reg.SetDefault(name) }); err != nil {
		return registryError(op, name, err)
	}
	return nil
}

// Vaults lists the registered vaults by name, and the mounted ones. When the
// registry names a default vault that is not registered, the list comes
// complete (no vault marked Default) with an *Error wrapping
// ErrNoDefaultVault whose Vault is the name of that default.
func (e *Engine) Vaults(ctx context.Context) ([]Registration, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: OpVaults, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refreshLocked(); err != nil {
		return nil, err
	}
	var err error
	if e.reg.DanglingDefault() {
		err = wrapf(OpVaults, e.reg.Default, "", ErrNoDefaultVault, "the default vault %q is not registered", e.reg.Default)
	}
	var out []Registration
	for _, v := range e.reg.Vaults {
		out = append(out, Registration{
			Name: v.Name, Extension: v.Extension, SHA256: v.SHA256, Description: v.Description,
			Parameters: v.Parameters, Grants: Grants(v.Grants), NoSearch: v.NoSearch, Default: v.Name == e.reg.Default,
		})
	}
	for key, n := range e.names {
		out = append(out, Registration{Name: n, Extension: "native", Description: e.mounted[key].Manifest().Description, Mounted: true})
	}
	return out, err
}

// DefaultVault returns the default vault's name as the registry gives it
// (Vaults says when it is not registered), or "" when there is none. A
// registry that cannot be read is an error, not "".
func (e *Engine) DefaultVault(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &Error{Op: OpVaults, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refreshLocked(); err != nil {
		return "", err
	}
	return e.reg.Default, nil
}

// Manifest loads vault r.Vault and returns what its extension declares.
func (e *Engine) Manifest(ctx context.Context, r ManifestRequest) (abi.Manifest, error) {
	vt, _, err := e.target(ctx, OpManifest, "", r.Vault)
	if err != nil {
		return abi.Manifest{}, err
	}
	return vt.Manifest(), nil
}

// Test checks that vault r.Vault works: its extension loads, and its own
// test passes (or, without one, it can list its secrets).
func (e *Engine) Test(ctx context.Context, r TestRequest) error {
	const op = OpTest
	vt, canon, err := e.target(ctx, op, "", r.Vault)
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

// Unlock gives password-protected vault r.Vault its password.
func (e *Engine) Unlock(ctx context.Context, r UnlockRequest) error {
	l, canon, err := e.locker(ctx, OpUnlock, abi.OpUnlock, r.Vault)
	if err != nil {
		return err
	}
	return vaultError(OpUnlock, canon, "", l.Unlock(ctx, r.Password))
}

// Lock makes vault r.Vault forget its keys at once. A vault without a lock
// of its own whose keys the host keeps (SPEC.md §5.8) is locked by the host
// wiping them.
func (e *Engine) Lock(ctx context.Context, r LockRequest) error {
	vt, canon, err := e.target(ctx, OpLock, "", r.Vault)
	if err != nil {
		return err
	}
	if w, ok := vt.(*wasmVault); ok && !supports(vt, abi.OpLock) && w.mod.Forget(ctx) {
		return nil
	}
	l, err := lockerOf(vt, canon, OpLock, abi.OpLock)
	if err != nil {
		return err
	}
	return vaultError(OpLock, canon, "", l.Lock(ctx))
}

// Unlocked returns, by name, the vaults whose extension holds an unlocked key
// in host memory (the sandbox's keyring, where the builtin secretstore keeps
// its key for its password timeout) and when each key expires. Such an
// unlock lasts at most as long as the engine. A vault that keeps its
// unlocked state elsewhere (in its storage) is not listed.
func (e *Engine) Unlocked() []Unlocked {
	e.mu.Lock()
	handles := slices.Collect(maps.Values(e.vaults))
	e.mu.Unlock()
	var list []Unlocked
	for _, h := range handles {
		h.mu.Lock()
		l := h.current
		h.mu.Unlock()
		if l == nil {
			continue
		}
		if w, ok := l.vault.(*wasmVault); ok {
			if held, exp := w.mod.KeyHeld(); held {
				list = append(list, Unlocked{Vault: l.config.Name, Expires: exp})
			}
		}
	}
	slices.SortFunc(list, func(a, b Unlocked) int { return strings.Compare(a.Vault, b.Vault) })
	return list
}

// SetPassword changes vault r.Vault's password from r.Old (empty when it has
// none) to r.New. The vault's call runs as a batch of one call (SPEC.md
// §5.3): its writes commit together when it succeeds, or not at all, and
// the commit is conditional on what it read, so that of several changes at
// once, in this process or others, that read the same state of the vault's
// storage, the first to commit wins and the others fail with an error
// wrapping ErrConflict. The storage file is then compacted (see
// passwordCall).
func (e *Engine) SetPassword(ctx context.Context, r SetPasswordRequest) error {
	return e.passwordCall(ctx, OpSetPassword, r.Vault, r.Old, r.New)
}

// Rekey gives vault r.Vault a new master key: every secret is encrypted
// again under it, in one transaction, and the storage file is compacted
// so that no page of the old key, or of a record it sealed, remains in it.
// r.Password is the vault's password (empty for a vault without one). It
// is the vault's set_password with the new password equal to the old one
// (SPEC.md §4: a request to rotate the keys), run as SetPassword runs it; a
// wrong password changes nothing and wraps ErrLocked.
func (e *Engine) Rekey(ctx context.Context, r RekeyRequest) error {
	return e.passwordCall(ctx, OpRekey, r.Vault, r.Password, r.Password)
}

// passwordCall runs the vault's set_password(old, new) for op as a batch
// of one call, then compacts the storage it wrote: the pages of the old
// wrapped key and of the records a new key replaced are free pages of the
// file, which bbolt does not clear, and they go with the compaction
// (storage.Store.Compact). A compaction that fails after the commit is
// reported: the change is made, but its old pages may remain on disk.
func (e *Engine) passwordCall(ctx context.Context, op Op, vault string, old, pw []byte) error {
	vt, canon, err := e.target(ctx, op, "", vault)
	if err != nil {
		return err
	}
	p, ok := vt.(PasswordSetter)
	if !ok || !supports(vt, abi.OpSetPassword) {
		return wrapf(op, canon, "", ErrUnsupported, "the vault has no password")
	}
	conflict := func() error {
		return wrapf(op, canon, "", ErrConflict, "another process changed the password at the same moment; this change was not made, and the password is the one the other process set")
	}
	bctx, batch := withBatch(ctx)
	defer batch.discard()
	if err := p.SetPassword(bctx, old, pw); err != nil {
		if batch.changed() { // a read after the derivation found the other's change
			return conflict()
		}
		return vaultError(op, canon, "", err)
	}
	testonly.AtCommit(false)
	stores, err := batch.commitStores(ctx)
	testonly.AtCommit(true)
	if err = storageErr(err); errors.Is(err, abi.Conflict) {
		return conflict()
	} else if err != nil {
		return vaultError(op, canon, "", err)
	}
	for _, s := range stores {
		if err := s.Compact(ctx); err != nil {
			return wrapf(op, canon, "", ErrUnavailable, "the change is made, but rewriting the storage file failed, so the old key's pages may remain in it until the next change: %v", err)
		}
	}
	return nil
}

// locker opens vault for op, which needs the vault's operation need.
func (e *Engine) locker(ctx context.Context, op Op, need abi.Op, vault string) (Locker, string, error) {
	vt, canon, err := e.target(ctx, op, "", vault)
	if err != nil {
		return nil, "", err
	}
	l, err := lockerOf(vt, canon, op, need)
	return l, canon, err
}

// lockerOf is vault vt, named canon, as the Locker that op needs.
func lockerOf(vt Vault, canon string, op Op, need abi.Op) (Locker, error) {
	l, ok := vt.(Locker)
	if !ok || !supports(vt, need) {
		return nil, wrapf(op, canon, "", ErrUnsupported, "the vault has no password to %s", op)
	}
	return l, nil
}

// Vault returns the vault registered (or mounted) under name, loading its
// extension. It is how a program runs the conformance suite of
// engine/vaulttest, or calls a vault directly, below the engine's checks.
func (e *Engine) Vault(ctx context.Context, name string) (Vault, error) {
	vt, _, err := e.target(ctx, OpOpen, "", name)
	return vt, err
}
