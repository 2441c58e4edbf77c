package testwasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/sesamehq/sesame/abi"
)

// fakeHost is a minimal stand-in for the engine's sandbox: just enough of
// SPEC.md §5 to drive the guests of this module through their exports. It is
// not the sandbox, and it checks nothing the sandbox's own tests must check.
type fakeHost struct {
	t       *testing.T
	runtime wazero.Runtime
	module  wazero.CompiledModule
	stderr  bytes.Buffer // shared by the instances; read only between calls

	// fakeClock leaves wazero's default clocks (a fixed walltime, a nanotime
	// that advances 1 ms per reading) instead of the real ones SPEC.md asks
	// for; TestSDKYields needs it.
	fakeClock bool

	mu      sync.Mutex
	kv      map[string][]byte
	storage bool // the storage grant
}

// result is what one call of an export produced.
type result struct {
	status abi.Status
	out    []byte
	msg    string
	logs   int
	err    error // from wazero: a trap, proc_exit or the deadline
}

// compilationCache spares the tests compiling a guest once per fakeHost,
// and, on disk beside the built guests, once per test process: wazero's
// optimizing compiler takes over a second of CPU for each 2.6 MB Go guest,
// loading its entry a tenth of that. Where the folder cannot be had, the
// cache is in memory.
var compilationCache = func() wazero.CompilationCache {
	if dir, err := cacheDir(); err == nil {
		if c, err := wazero.NewCompilationCacheWithDir(filepath.Join(dir, "wazero")); err == nil {
			return c
		}
	}
	return wazero.NewCompilationCache()
}()

type callKey struct{}

// callState is the per-call state the host functions reach through ctx.
type callState struct {
	args [][]byte
	result
}

func newFakeHost(t *testing.T, wasmPath string) *fakeHost {
	t.Helper()
	ctx := context.Background()
	h := &fakeHost{t: t, kv: map[string][]byte{}, storage: true}
	// Without WithMemoryCapacityFromMax, wazero copies the whole memory on
	// every memory.grow: the oom guest then takes seconds, not milliseconds,
	// to reach 64 MiB.
	h.runtime = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(compilationCache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(abi.DefaultMemory/65536).
		WithMemoryCapacityFromMax(true))
	t.Cleanup(func() { h.runtime.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, h.runtime)

	b := h.runtime.NewHostModuleBuilder(abi.ImportModule)
	b.NewFunctionBuilder().WithFunc(h.input).Export(abi.ImportInput)
	b.NewFunctionBuilder().WithFunc(h.output).Export(abi.ImportOutput)
	b.NewFunctionBuilder().WithFunc(h.error).Export(abi.ImportError)
	b.NewFunctionBuilder().WithFunc(h.log).Export(abi.ImportLog)
	b.NewFunctionBuilder().WithFunc(h.kvGet).Export(abi.ImportKVGet)
	b.NewFunctionBuilder().WithFunc(h.kvSet).Export(abi.ImportKVSet)
	b.NewFunctionBuilder().WithFunc(h.kvDelete).Export(abi.ImportKVDelete)
	b.NewFunctionBuilder().WithFunc(h.kvList).Export(abi.ImportKVList)
	b.NewFunctionBuilder().WithFunc(h.kvScan).Export(abi.ImportKVScan)
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}

	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	if h.module, err = h.runtime.CompileModule(ctx, wasm); err != nil {
		t.Fatal(err)
	}
	return h
}

// instance creates a fresh instance configured as SPEC.md asks: _initialize,
// the real clocks, the system's random source, sleeps cut to 10 ms.
func (h *fakeHost) instance() api.Module {
	h.t.Helper()
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithRandSource(rand.Reader).
		WithNanosleep(func(ns int64) { time.Sleep(time.Duration(min(ns, int64(10*time.Millisecond)))) }).
		WithStderr(&h.stderr)
	if !h.fakeClock {
		cfg = cfg.WithSysWalltime().WithSysNanotime()
	}
	m, err := h.runtime.InstantiateModule(context.Background(), h.module, cfg)
	if err != nil {
		h.t.Fatalf("instantiate: %v\nstderr: %s", err, h.stderr.String())
	}
	h.t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// call calls export with args (their lengths are the parameters) under a
// deadline.
func (h *fakeHost) call(m api.Module, export string, timeout time.Duration, args ...[]byte) result {
	h.t.Helper()
	st := &callState{args: args}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), callKey{}, st), timeout)
	defer cancel()
	f := m.ExportedFunction(export)
	if f == nil {
		h.t.Fatalf("no export %s", export)
	}
	params := make([]uint64, len(args))
	for i, a := range args {
		params[i] = uint64(len(a))
	}
	res, err := f.Call(ctx, params...)
	st.err = err
	if err == nil {
		st.status = abi.Status(uint32(res[0]))
	}
	return st.result
}

// mustCall is call that expects no trap and the status want.
func (h *fakeHost) mustCall(m api.Module, want abi.Status, export string, args ...[]byte) result {
	h.t.Helper()
	r := h.call(m, export, 5*time.Second, args...)
	if r.err != nil {
		h.t.Fatalf("%s: %v\nstderr: %s", export, r.err, h.stderr.String())
	}
	if r.status != want {
		h.t.Fatalf("%s: status %v (%q), want %v", export, r.status, r.msg, want)
	}
	return r
}

func state(ctx context.Context) *callState { return ctx.Value(callKey{}).(*callState) }

// read copies [ptr, ptr+n) out of guest memory.
func read(m api.Module, ptr, n uint32) ([]byte, bool) {
	b, ok := m.Memory().Read(ptr, n)
	return bytes.Clone(b), ok
}

// fits reports whether [ptr, ptr+n) is inside guest memory.
func fits(m api.Module, ptr, n uint32) bool {
	return uint64(ptr)+uint64(n) <= uint64(m.Memory().Size())
}

func (h *fakeHost) input(ctx context.Context, m api.Module, idx, dst, capacity uint32) int32 {
	st := state(ctx)
	if int(idx) >= len(st.args) {
		return -int32(abi.NotFound)
	}
	if !fits(m, dst, capacity) {
		return -int32(abi.InvalidArgument)
	}
	a := st.args[idx]
	if len(a) <= int(capacity) {
		m.Memory().Write(dst, a)
	}
	return int32(len(a))
}

func (h *fakeHost) output(ctx context.Context, m api.Module, src, n uint32) uint32 {
	if n > abi.MaxCallBytes {
		return uint32(abi.TooLarge)
	}
	b, ok := read(m, src, n)
	if !ok {
		return uint32(abi.InvalidArgument)
	}
	state(ctx).out = b
	return 0
}

// error keeps the whole message, unlike the real host, so that tests see
// what the guest sent.
func (h *fakeHost) error(ctx context.Context, m api.Module, src, n uint32) uint32 {
	b, ok := read(m, src, n)
	if !ok {
		return uint32(abi.InvalidArgument)
	}
	state(ctx).msg = string(b)
	return 0
}

func (h *fakeHost) log(ctx context.Context, m api.Module, level, src, n uint32) uint32 {
	if !fits(m, src, n) {
		return uint32(abi.InvalidArgument)
	}
	state(ctx).logs++
	return 0
}

func (h *fakeHost) kvGet(ctx context.Context, m api.Module, kptr, klen, dst, capacity uint32) int64 {
	k, ok := read(m, kptr, klen)
	if !ok || !fits(m, dst, capacity) {
		return -int64(abi.InvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.storage {
		return -int64(abi.PermissionDenied)
	}
	v, found := h.kv[string(k)]
	if !found {
		return -int64(abi.NotFound)
	}
	if len(v) <= int(capacity) {
		m.Memory().Write(dst, v)
	}
	return int64(len(v))
}

func (h *fakeHost) kvSet(ctx context.Context, m api.Module, kptr, klen, vptr, vlen uint32) uint32 {
	k, ok1 := read(m, kptr, klen)
	v, ok2 := read(m, vptr, vlen)
	if !ok1 || !ok2 || klen == 0 {
		return uint32(abi.InvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.storage {
		return uint32(abi.PermissionDenied)
	}
	h.kv[string(k)] = v
	return 0
}

func (h *fakeHost) kvDelete(ctx context.Context, m api.Module, kptr, klen uint32) uint32 {
	k, ok := read(m, kptr, klen)
	if !ok {
		return uint32(abi.InvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.storage {
		return uint32(abi.PermissionDenied)
	}
	if _, found := h.kv[string(k)]; !found {
		return uint32(abi.NotFound)
	}
	delete(h.kv, string(k))
	return 0
}

func (h *fakeHost) kvList(ctx context.Context, m api.Module, pptr, plen, aptr, alen, dst, capacity uint32) int64 {
	prefix, ok1 := read(m, pptr, plen)
	after, ok2 := read(m, aptr, alen)
	if !ok1 || !ok2 || !fits(m, dst, capacity) {
		return -int64(abi.InvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.storage {
		return -int64(abi.PermissionDenied)
	}
	var keys [][]byte
	for k := range h.kv {
		if strings.HasPrefix(k, string(prefix)) && (alen == 0 || k > string(after)) {
			keys = append(keys, []byte(k))
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = keys[:min(len(keys), abi.StorageListPage)]
	b := abi.AppendKeyList(nil, keys)
	if len(b) <= int(capacity) {
		m.Memory().Write(dst, b)
	}
	return int64(len(b))
}

// kvScan is kvList with the values: a page of at most StorageListPage
// entries that fits in capacity (at least the first, whose length answers
// when it does not fit).
func (h *fakeHost) kvScan(ctx context.Context, m api.Module, pptr, plen, aptr, alen, dst, capacity uint32) int64 {
	prefix, ok1 := read(m, pptr, plen)
	after, ok2 := read(m, aptr, alen)
	if !ok1 || !ok2 || !fits(m, dst, capacity) {
		return -int64(abi.InvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.storage {
		return -int64(abi.PermissionDenied)
	}
	var keys []string
	for k := range h.kv {
		if strings.HasPrefix(k, string(prefix)) && (alen == 0 || k > string(after)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page []abi.KV
	size := 4
	for _, k := range keys[:min(len(keys), abi.StorageListPage)] {
		kv := abi.KV{Key: []byte(k), Value: h.kv[k]}
		if len(page) > 0 && size+abi.KVSize(kv) > int(capacity) {
			break
		}
		page = append(page, kv)
		size += abi.KVSize(kv)
	}
	b := abi.AppendEntryList(nil, page)
	if len(b) <= int(capacity) {
		m.Memory().Write(dst, b)
	}
	return int64(len(b))
}

func (h *fakeHost) record(key string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[key]
	return v, ok
}
