package sandbox

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
)

// shareHook, nil unless a test has called ShareCompiledModules, returns
// the process's cache of a cache folder (the subfolder of Config.CacheDir
// named after the key), or false for a folder whose Hosts do not share.
var shareHook atomic.Pointer[func(dir string) (fileCache, bool)]

// ShareCompiledModules makes the Hosts whose Config.CacheDir is root share,
// for the rest of the process, one wazero cache over its folder (one per
// cache key), which keeps every module that one of them compiled: a Host
// that loads a module another Host of the process loaded before compiles it
// from memory, reading no cache entry, and so skips the check of the
// folder's seals (whose cost grows with the folder: the tests' folder,
// shared by every checkout and test run on the machine, holds hundreds of
// entries). The first load of each module in the process takes the real
// path: the seals are checked, its entry read or written, and sealed.
// Hosts over any other folder, or over none, are left alone, so that the
// tests of the disk cache and its seal use folders of their own.
//
// A test package's TestMain calls it, because every test makes engines of
// its own, and each engine paid, for every Go guest it loaded, the reading
// and re-validating of a cache entry of about 12 MB. A later call replaces
// the root of an earlier one.
//
// Tests only, in the manner of package testonly's switches: nothing else
// calls it, so the linker leaves it, and the code it installs, out of
// every program (internal/testonly's TestReleaseBinaryHasNoHooks checks
// sesame). The modules it keeps are never freed.
func ShareCompiledModules(root string) {
	p := &processCache{root: filepath.Clean(root), caches: map[string]fileCache{}}
	f := p.cacheOf
	shareHook.Store(&f)
}

// processCache is the shared caches of the Hosts over one root folder.
type processCache struct {
	root   string
	mu     sync.Mutex
	caches map[string]fileCache // by cache folder
}

// cacheOf returns the process's cache of dir, a subfolder of the root.
func (p *processCache) cacheOf(dir string) (fileCache, bool) {
	if filepath.Dir(dir) != p.root {
		return fileCache{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.caches[dir]; ok {
		return c, true
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return fileCache{}, false // the Host fails on its own, and says why
	}
	k := &keeper{cache: cache, kept: map[compiledKey][]byte{}, turns: map[compiledKey]*sync.Mutex{}}
	c := fileCache{cache: cache, kept: keptModules{turn: k.turn, get: k.get, keep: k.keep}}
	p.caches[dir] = c
	return c, true
}

// A keeper holds one compiled module of each module compiled in its cache,
// never closed: wazero's engine, which the runtimes over one cache share,
// frees a module's machine code once every compiled module of it is
// closed, as each Host's are when it closes. It keeps the checked and
// instrumented bytes too, which a Host would otherwise make again.
type keeper struct {
	cache wazero.CompilationCache
	mu    sync.Mutex
	rt    wazero.Runtime
	kept  map[compiledKey][]byte
	turns map[compiledKey]*sync.Mutex // one compile of each module at a time
}

// turn waits until no other Host of the process compiles key, and returns
// the end of this Host's turn. Parallel tests load the same guests at
// once: each compiled them all over again (8 s of the engine's tests'
// CPU), where those after the first now find them kept.
func (k *keeper) turn(key compiledKey) (end func()) {
	k.mu.Lock()
	t := k.turns[key]
	if t == nil {
		t = new(sync.Mutex)
		k.turns[key] = t
	}
	k.mu.Unlock()
	t.Lock()
	return t.Unlock
}

// get returns the bytes of a kept module, or nil.
func (k *keeper) get(key compiledKey) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kept[key]
}

// keep compiles wasm in the keeper's runtime, once: a memory hit, since a
// Host has just compiled it over the same cache.
func (k *keeper) keep(ctx context.Context, key compiledKey, wasm []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kept[key] != nil {
		return
	}
	if k.rt == nil {
		k.rt = wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfig().WithCompilationCache(k.cache))
	}
	if _, err := k.rt.CompileModule(ctx, wasm); err == nil {
		k.kept[key] = wasm
	}
}
