package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/engine/internal/registry"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/engine/internal/storage"
	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/xdg"
)

// Options configure an Engine (api.Options).
type Options = api.Options

// Engine carries the secret-management operations over the vaults of one
// registry file. It is safe for concurrent use by many goroutines, and
// several processes may use the same registry and vaults at once.
type Engine struct {
	path string
	opts Options
	host *sandbox.Host

	mu      sync.Mutex
	reg     *registry.Registry
	stamp   fileStamp
	fresh   freshness          // when to look at the file again (fresh.go)
	vaults  map[string]*handle // registered vaults, by lower-case name (handle.go)
	mounted map[string]Vault   // in-process vaults, by lower-case name
	names   map[string]string  // lower-case → mounted name as given
	closed  bool
}

// loaded is an opened vault of the registry.
type loaded struct {
	config registry.Vault
	env    map[string]string // the granted variables it was started with
	vault  Vault
	store  *storage.Store
}

// fileStamp tells when the registry file must be read again. The mode is
// part of it so that a registry opened up to other users is refused at
// once (registry.Load), not at its next change.
type fileStamp struct {
	mod  time.Time
	size int64
	mode fs.FileMode
}

func stampOf(st fs.FileInfo) fileStamp { return fileStamp{st.ModTime(), st.Size(), st.Mode()} }

// Open opens the engine over the registry file at path. A missing file is an
// empty registry; the first change creates it. ctx bounds the opening only,
// not the Engine's life.
func Open(ctx context.Context, path string, opts *Options) (*Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: OpOpen, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{Op: OpOpen, Err: fmt.Errorf("%w: %w", ErrRegistry, err)}
	}
	if err := defaultDirs(&o); err != nil {
		return nil, &Error{Op: OpOpen, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = slog.New(printableLog{o.Logger.Handler()})
	cache := filepath.Join(o.CacheDir, "wazero")
	if o.NoCache || o.CacheDir == "" {
		cache = ""
	}
	host, err := sandbox.NewHost(sandbox.Config{CacheDir: cache, CacheKey: o.CacheKey, Logger: o.Logger})
	if err != nil {
		return nil, &Error{Op: OpOpen, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	e := &Engine{path: abs, opts: o, host: host, vaults: map[string]*handle{}, mounted: map[string]Vault{}, names: map[string]string{}}
	e.fresh.noWatch = o.ShortLived
	if err := e.refresh(); err != nil {
		host.Close(context.Background())
		return nil, err
	}
	return e, nil
}

// defaultDirs fills in the folders left empty with the user's (package
// xdg), failing when they cannot be found.
func defaultDirs(o *Options) (err error) {
	if o.DataDir == "" {
		if o.DataDir, err = xdg.DataDir(); err != nil {
			return err
		}
	}
	if o.CacheDir == "" && !o.NoCache {
		if o.CacheDir, err = xdg.CacheDir(); err != nil {
			return err
		}
	}
	if o.CacheKey == "" && !o.NoCache {
		dir, err := xdg.ConfigDir()
		if err != nil {
			return err
		}
		o.CacheKey = filepath.Join(dir, "cache.key")
	}
	return nil
}

// Path returns the absolute path of the registry file.
func (e *Engine) Path() string { return e.path }

// Close closes every vault and the sandbox. An engine holds what the
// garbage collector does not release: its vaults' linear memory (mapped
// outside the Go heap), their storage files' locks and handles, and a watch
// of its registry's folder in the process's inotify instance. Close releases
// them; an engine dropped without it keeps them until the process exits.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for key, h := range e.vaults {
		delete(e.vaults, key)
		errs = append(errs, h.retire())
	}
	errs = append(errs, e.host.Close(context.Background()))
	e.fresh.stop()
	return errors.Join(errs...)
}

// Forget makes every vault of the engine's extensions forget its keys at
// once, and refuse new ones, without calling the extensions or waiting for
// the calls in progress: a call that hangs cannot keep a key alive. The
// vaults stay locked from then on; it is the first step of shutting down,
// before Close (the sesame agent's stop).
func (e *Engine) Forget() { e.host.Forget() }

// refresh reloads the registry when the file changed, and unloads vaults
// whose registration changed; it looks at the file only when freshness
// says it may have changed. Callers hold e.mu (or are Open).
func (e *Engine) refresh() error {
	if e.reg != nil && !e.fresh.due() {
		return nil
	}
	e.fresh.looking(e.path)
	st, err := os.Stat(e.path)
	var stamp fileStamp
	if err == nil {
		stamp = stampOf(st)
	}
	if e.reg != nil && stamp == e.stamp {
		e.fresh.looked()
		return nil
	}
	reg, err := registry.Load(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reg = &registry.Registry{Path: e.path}
	case err != nil:
		e.fresh.expire() // the next operation reads it again, and fails again until it is fixed
		return &Error{Op: OpOpen, Err: fmt.Errorf("%w: %w", ErrRegistry, err)}
	}
	e.adopt(reg, stamp)
	e.fresh.looked()
	return nil
}

// adopt makes reg the current registry, closing the vaults whose
// registration changed. Callers hold e.mu.
func (e *Engine) adopt(reg *registry.Registry, stamp fileStamp) {
	for key, h := range e.vaults {
		old, _ := e.reg.Lookup(key)
		if v, ok := reg.Lookup(key); !ok || old == nil || !reflect.DeepEqual(*v, *old) {
			delete(e.vaults, key)
			h.retire()
		}
	}
	e.reg, e.stamp = reg, stamp
}

func (l *loaded) close() error {
	var errs []error
	if c, ok := l.vault.(interface{ Close(context.Context) error }); ok {
		errs = append(errs, c.Close(context.Background()))
	}
	if l.store != nil {
		errs = append(errs, l.store.Close())
	}
	return errors.Join(errs...)
}

// Mount attaches an in-process vault under name, beside the registry's
// vaults, for this Engine only. It is how a Go program adds a vault of its
// own; it is never written to the registry and cannot be the default.
func (e *Engine) Mount(name string, v Vault) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := checkVaultName(OpMount, name); err != nil {
		return err
	}
	key := strings.ToLower(name)
	if _, ok := e.reg.Lookup(name); ok || e.mounted[key] != nil {
		return wrapf(OpMount, name, "", ErrVaultExists, "")
	}
	e.mounted[key], e.names[key] = v, name
	return nil
}

// resolve returns the canonical name of vault, or of the default vault when
// vault is empty.
func (e *Engine) resolve(op Op, secret, vault string) (string, error) {
	if vault == "" {
		switch {
		case e.reg.Default == "":
			return "", wrapf(op, "", secret, ErrNoDefaultVault, "name a vault, or set a default vault")
		case e.reg.DanglingDefault():
			return "", wrapf(op, "", secret, ErrNoDefaultVault, "the default vault %q is not registered", e.reg.Default)
		}
		return e.reg.Default, nil
	}
	if abi.HasWildcard(vault) {
		return "", wrapf(op, vault, secret, ErrInvalidName, "a vault name cannot contain wildcards")
	}
	if v, ok := e.reg.Lookup(vault); ok {
		return v.Name, nil
	}
	if key := strings.ToLower(vault); e.mounted[key] != nil {
		return e.names[key], nil
	}
	return "", wrapf(op, vault, secret, ErrVaultNotFound, "no vault named %q is registered in %s", vault, e.path)
}

// open returns the registered or mounted vault named name (canonical),
// loading its extension on first use. Callers do not hold e.mu: a load runs
// with no engine lock held, under the vault's own handle.
func (e *Engine) open(ctx context.Context, op Op, name string) (Vault, error) {
	key := strings.ToLower(name)
	e.mu.Lock()
	if v := e.mounted[key]; v != nil {
		e.mu.Unlock()
		return v, nil
	}
	cfg, ok := e.reg.Lookup(name)
	if !ok || e.closed {
		e.mu.Unlock()
		if e.closed {
			return nil, &Error{Op: op, Vault: name, Err: fmt.Errorf("%w: the engine is closed", ErrUnavailable)}
		}
		return nil, wrapf(op, name, "", ErrVaultNotFound, "")
	}
	h := e.vaults[key]
	if h == nil {
		h = newHandle()
		e.vaults[key] = h
	}
	reg, c := e.reg, *cfg
	e.mu.Unlock()
	l, err := h.use(ctx, c, func() (*loaded, error) { return e.load(ctx, reg, c) })
	if err != nil {
		return nil, &Error{Op: op, Vault: name, Err: err}
	}
	return l.vault, nil
}

// load reads, checks and starts the extension of one registered vault.
func (e *Engine) load(ctx context.Context, reg *registry.Registry, cfg registry.Vault) (*loaded, error) {
	wasm, err := e.moduleBytes(ctx, reg, cfg.Extension)
	if err != nil {
		return nil, err
	}
	spec := sandbox.Spec{
		Vault:     cfg.Name,
		Wasm:      wasm,
		SHA256:    cfg.SHA256,
		Memory:    cfg.Grants.Memory,
		Timeout:   cfg.Grants.Timeout,
		Instances: cfg.Grants.Instances,
		ReadOnly:  cfg.Grants.ReadOnly,
		Interpret: e.opts.Interpret && interpretable(cfg.Extension, wasm),
	}
	if cfg.Grants.Directory != "" {
		spec.Dir = reg.ResolvePath(cfg.Grants.Directory)
		if st, err := os.Stat(spec.Dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: granted directory %s is not a folder", ErrUnavailable, spec.Dir)
		}
	}
	spec.Env = grantedEnv(ctx, cfg.Grants.Env)
	if spec.HTTP, err = httpGrant(reg, cfg.Grants); err != nil {
		return nil, err
	}
	if spec.Params, err = e.resolveParams(ctx, reg, cfg); err != nil {
		return nil, err
	}
	if cfg.Grants.Identity {
		// The identity is read now, from the default vault, so that a
		// vault loads with it or not at all (locked, say).
		if spec.Identity, err = e.identity(ctx); err != nil {
			return nil, err
		}
	}
	l := &loaded{config: cfg, env: spec.Env}
	if cfg.Grants.Storage {
		if err := claimLegacy(e.opts.DataDir, cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		path := StorageFile(e.opts.DataDir, cfg.Name, cfg.Extension)
		if l.store, err = storage.Open(path, storage.Options{NoIdleHold: e.opts.ShortLived}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		spec.Storage = storageArea{l.store}
	}
	mod, err := e.host.Load(ctx, spec)
	if err != nil {
		if l.store != nil {
			l.store.Close()
		}
		return nil, fmt.Errorf("%w: extension %s: %w", ErrExtension, cfg.Extension, err)
	}
	l.vault = newWasmVault(mod)
	return l, nil
}

// envKey is the context key of WithEnv.
type envKey struct{}

// WithEnv returns a context under which the engine reads the environment
// variables granted to extensions from lookup instead of the process's
// environment. A server that runs operations for other processes (the sesame
// agent) passes each client's environment this way. A vault started under
// other values of its granted variables is started again.
func WithEnv(ctx context.Context, lookup func(string) (string, bool)) context.Context {
	return context.WithValue(ctx, envKey{}, lookup)
}

// grantedEnv returns the values of the granted variables names, from the
// lookup of WithEnv or else the process's environment; nil when none is
// granted.
func grantedEnv(ctx context.Context, names []string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	lookup, _ := ctx.Value(envKey{}).(func(string) (string, bool))
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := map[string]string{}
	for _, k := range names {
		if v, ok := lookup(k); ok {
			env[k] = v
		}
	}
	return env
}

// moduleBytes returns the wasm bytes an extension reference names; a file is
// read by ReadModule.
func (e *Engine) moduleBytes(ctx context.Context, reg *registry.Registry, ref string) ([]byte, error) {
	if name, ok := strings.CutPrefix(ref, "builtin:"); ok {
		b, ok := extensions.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w: unknown builtin extension %q (built in: %s)", ErrExtension, name, strings.Join(extensions.Names(), ", "))
		}
		return b, nil
	}
	b, err := ReadModule(ctx, reg.ResolvePath(ref))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExtension, err)
	}
	return b, nil
}

// maxInterpreted is the size of the largest module Options.Interpret runs
// in wazero's interpreter.
const maxInterpreted = 256 << 10

// interpretable reports whether Options.Interpret runs the module wasm of
// the extension ref in wazero's interpreter: the builtin C extensions (the
// secretstore 69 KB, dotenv 47 KB), whose code is known and calls little of
// itself per operation. The builtin Go guests (keepass, etcd: megabytes,
// and their runtime's start alone runs millions of instructions) and every
// extension not built in, whose calls may nest past the 2000 the
// interpreter allows (Spec.Interpret), are compiled.
func interpretable(ref string, wasm []byte) bool {
	return strings.HasPrefix(ref, "builtin:") && len(wasm) <= maxInterpreted
}

func paramStrings(p map[string]any) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// storageArea adapts a storage.Store to the sandbox, mapping its errors to
// ABI statuses.
type storageArea struct{ s *storage.Store }

func storageErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return abi.NotFound
	case errors.Is(err, storage.ErrExists), errors.Is(err, storage.ErrChanged):
		return abi.Conflict
	case errors.Is(err, storage.ErrTooLarge), errors.Is(err, storage.ErrQuota):
		return abi.TooLarge
	case errors.Is(err, storage.ErrInvalid):
		return abi.InvalidArgument
	}
	return fmt.Errorf("%w: %w", abi.Unavailable, err) // the sandbox reports why
}

// The reads and writes go through the batch of the call's context, if it
// has one (batch.go).

func (a storageArea) Get(ctx context.Context, key []byte) ([]byte, error) {
	if b := batchOf(ctx, a.s); b != nil {
		v, err := b.View(ctx, key) // the sandbox only reads it (Storage.Get)
		return v, storageErr(err)
	}
	v, err := a.s.Get(ctx, key)
	return v, storageErr(err)
}

func (a storageArea) Set(ctx context.Context, key, value []byte) error {
	if b := batchOf(ctx, a.s); b != nil {
		return storageErr(b.Set(ctx, key, value))
	}
	return storageErr(a.s.Set(ctx, key, value))
}

func (a storageArea) Add(ctx context.Context, key, value []byte) error {
	if b := batchOf(ctx, a.s); b != nil {
		return storageErr(b.Add(ctx, key, value))
	}
	return storageErr(a.s.Add(ctx, key, value))
}

func (a storageArea) Delete(ctx context.Context, key []byte) error {
	if b := batchOf(ctx, a.s); b != nil {
		return storageErr(b.Delete(ctx, key))
	}
	return storageErr(a.s.Delete(ctx, key))
}

func (a storageArea) List(ctx context.Context, prefix, after []byte, limit int) ([][]byte, error) {
	if b := batchOf(ctx, a.s); b != nil {
		keys, err := b.List(ctx, prefix, after, limit)
		return keys, storageErr(err)
	}
	keys, err := a.s.List(ctx, prefix, after, limit)
	return keys, storageErr(err)
}

// Scan reads a page of entries; like List's keys, they are not part of a
// batch's condition (§5.3).
func (a storageArea) Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]abi.KV, error) {
	var page []storage.Entry
	var err error
	if b := batchOf(ctx, a.s); b != nil {
		page, _, err = b.Scan(ctx, prefix, after, limit, maxBytes)
	} else {
		page, _, err = a.s.Scan(ctx, prefix, after, limit, maxBytes)
	}
	kvs := make([]abi.KV, len(page))
	for i, e := range page {
		kvs[i] = abi.KV{Key: e.Key, Value: e.Value}
	}
	return kvs, storageErr(err)
}

// vaultOrder returns the vaults searched when none is named: the default
// (when it is registered) first, then the others by name,
// case-insensitively, but for those registered with NoSearch.
func (e *Engine) vaultOrder() []string {
	var names []string
	for _, v := range e.reg.Vaults {
		if v.Name != e.reg.Default && !v.NoSearch {
			names = append(names, v.Name)
		}
	}
	for _, n := range e.names {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if e.reg.Default != "" && !e.reg.DanglingDefault() {
		names = append([]string{e.reg.Default}, names...)
	}
	return names
}
