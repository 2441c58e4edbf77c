package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/assemblyscript"

	"github.com/sesamehq/sesame/abi"
)

// Config configures a Host.
type Config struct {
	// CacheDir keeps compiled modules on disk, so that other processes reuse
	// them, each sealed with the key in the file CacheKey (created 0600 if
	// missing; keep it out of CacheDir, see cache.go). Empty means an
	// in-memory cache for this Host only, and so does a CacheDir or
	// CacheKey that fails the checks of package fileperm: the Host then
	// logs why once.
	CacheDir string
	CacheKey string
	// Logger receives the extensions' log lines, tagged with the vault name.
	// Nil discards them.
	Logger *slog.Logger
}

// Host runs extensions. It is safe for concurrent use.
type Host struct {
	cache  wazero.CompilationCache
	sealed *sealedCache // nil when cache is in memory
	kept   keptModules  // zero unless cache is a test process's (fileCache)
	logger *slog.Logger

	mu       sync.Mutex
	runtimes map[runtimeKey]*runtime
	closed   bool

	runMu   sync.Mutex
	running map[*instance]struct{} // instances running a call, which Close stops
	halted  bool                   // Close has begun: no call starts

	modMu   sync.Mutex
	modules map[*Module]struct{} // loaded and not closed, for Forget
	forgot  bool                 // Forget was called: modules loaded later are sealed

	memory memoryUse // the guests' linear memory (memory.go)

	compiledMu sync.Mutex
	shared     map[compiledKey]*sharedCompiled // compiled modules in use (shared.go)
}

// runtime is one wazero runtime with the host modules instantiated in it.
type runtime struct {
	rt        wazero.Runtime
	imports   map[string]map[string]api.FunctionDefinition // module → function → definition
	interpret bool                                         // wazero's interpreter: nothing to cache
}

// NewHost creates a Host.
func NewHost(cfg Config) (*Host, error) {
	h := &Host{logger: cfg.Logger, runtimes: map[runtimeKey]*runtime{}}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	h.cache = wazero.NewCompilationCache()
	if cfg.CacheDir != "" {
		c, sealed, err := openSealedCache(cfg.CacheDir, cfg.CacheKey, h.logger)
		if err != nil {
			h.logger.Warn("compile cache not used: compiling in memory", "folder", cfg.CacheDir, "reason", err.Error())
		} else {
			h.cache, h.kept, h.sealed = c.cache, c.kept, sealed
		}
	}
	return h, nil
}

// compile compiles wasm in r. With a disk cache, it first checks every
// entry of the cache against its seal (so wazero reads no entry that was
// not checked), and seals what the compile wrote; but not for a module
// that a test process keeps compiled (kept; see keptModules), which wazero
// finds in memory, nor for one that r interprets, for which wazero
// neither reads nor writes the cache.
func (h *Host) compile(ctx context.Context, r *runtime, wasm []byte, kept bool) (wazero.CompiledModule, error) {
	sealed := h.sealed
	if kept || r.interpret {
		sealed = nil
	}
	if sealed != nil {
		if err := sealed.check(ctx); err != nil {
			return nil, errorf(abi.Unavailable, "", "compile cache "+sealed.dir+" cannot be checked: "+err.Error())
		}
	}
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, errorf(abi.InvalidArgument, "", "not a valid WebAssembly module: "+err.Error())
	}
	if sealed != nil {
		if err := sealed.seal(); err != nil {
			// Unsealed entries are removed unread by the next check.
			h.logger.WarnContext(ctx, "compile cache: cannot seal an entry", "folder", sealed.dir, "reason", err.Error())
		}
	}
	return compiled, nil
}

// runtimeFor returns the runtime of k, creating it.
func (h *Host) runtimeFor(ctx context.Context, k runtimeKey) (*runtime, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("sandbox: host is closed")
	}
	if r, ok := h.runtimes[k]; ok {
		return r, nil
	}
	cfg := wazero.NewRuntimeConfig() // its compiler, where it has one
	if k.interpret {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	cfg = cfg.WithCompilationCache(h.cache).
		WithMemoryLimitPages(k.pages) // calls are stopped by the instrumentation's stop global, not WithCloseOnContextDone
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	r := &runtime{rt: rt, imports: map[string]map[string]api.FunctionDefinition{}, interpret: k.interpret}
	err := instantiateWASI(ctx, rt, k)
	if err == nil {
		err = instantiateHostModule(ctx, rt, abi.ImportModule, sesameImports, k.wants(abi.ImportModule))
	}
	if err == nil {
		err = instantiateEnv(ctx, rt, k)
	}
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("sandbox: host modules: %w", err)
	}
	for _, name := range []string{wasiModule, abi.ImportModule, envModule} {
		if mod := rt.Module(name); mod != nil {
			r.imports[name] = mod.ExportedFunctionDefinitions()
		}
	}
	h.runtimes[k] = r
	return r, nil
}

// envModule is the import module of AssemblyScript's runtime.
const envModule = "env"

// instantiateEnv instantiates wazero's AssemblyScript module (abort, trace
// and seed; abort's message discarded) when k names any of its functions.
func instantiateEnv(ctx context.Context, rt wazero.Runtime, k runtimeKey) error {
	if len(k.wants(envModule)) == 0 {
		return nil
	}
	b := rt.NewHostModuleBuilder(envModule)
	assemblyscript.NewFunctionExporter().WithAbortMessageDisabled().ExportFunctions(b)
	_, err := b.Instantiate(ctx)
	return err
}

// Close closes every runtime, and with them every module and instance.
func (h *Host) Close(ctx context.Context) error {
	h.runMu.Lock()
	h.halted = true
	for in := range h.running {
		in.halt()
	}
	h.runMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	var errs []error
	for _, r := range h.runtimes {
		errs = append(errs, r.rt.Close(ctx))
	}
	h.runtimes = nil
	if h.kept.keep == nil { // else the cache is the process's
		errs = append(errs, h.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// enter counts in as running a call, unless the host is closing.
func (h *Host) enter(in *instance) bool {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	if h.halted {
		return false
	}
	if h.running == nil {
		h.running = map[*instance]struct{}{}
	}
	h.running[in] = struct{}{}
	return true
}

// leave uncounts in.
func (h *Host) leave(in *instance) {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	delete(h.running, in)
}

// isClosed reports whether Close has begun.
func (h *Host) isClosed() bool {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	return h.halted
}

// Forget zeroes the keyring and the keys of every module of the host and
// seals them, so that no key is taken again, and discards the modules' idle
// instances (zeroing their memory). It neither calls the extensions nor waits for
// calls in progress, so a call that hangs cannot keep a key alive: it is
// the first step of shutting down, before Close.
func (h *Host) Forget() {
	h.modMu.Lock()
	h.forgot = true
	mods := make([]*Module, 0, len(h.modules))
	for m := range h.modules {
		mods = append(mods, m)
	}
	h.modMu.Unlock()
	for _, m := range mods {
		m.keyring.seal()
		m.keys.seal()
		m.pool.drain(context.Background())
	}
}

func (h *Host) track(m *Module) {
	h.modMu.Lock()
	defer h.modMu.Unlock()
	if h.forgot {
		m.keyring.seal()
		m.keys.seal()
	}
	if h.modules == nil {
		h.modules = map[*Module]struct{}{}
	}
	h.modules[m] = struct{}{}
}

func (h *Host) untrack(m *Module) {
	h.modMu.Lock()
	defer h.modMu.Unlock()
	delete(h.modules, m)
}

// allowedImport reports whether a guest may import module.name.
func (r *runtime) allowedImport(module, name string) bool {
	switch module {
	case abi.ImportModule, wasiModule:
	case envModule:
		if !envFunction(name) {
			return false
		}
	default:
		return false
	}
	_, ok := r.imports[module][name]
	return ok
}
