package sandbox_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// memStorage is an in-memory sandbox.Storage for tests that are about the
// sandbox, not the disk.
type memStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStorage() *memStorage { return &memStorage{m: map[string][]byte{}} }

func (s *memStorage) Get(_ context.Context, key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if !ok {
		return nil, abi.NotFound
	}
	return bytes.Clone(v), nil
}

func (s *memStorage) Set(_ context.Context, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *memStorage) Add(_ context.Context, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[string(key)]; ok {
		return abi.Conflict
	}
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *memStorage) Delete(_ context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[string(key)]; !ok {
		return abi.NotFound
	}
	delete(s.m, string(key))
	return nil
}

func (s *memStorage) List(_ context.Context, prefix, after []byte, limit int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && (after == nil || k > string(after)) {
			keys = append(keys, k)
		}
	}
	slicesSort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out, nil
}

func (s *memStorage) Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]abi.KV, error) {
	keys, _ := s.List(ctx, prefix, after, limit)
	var page []abi.KV
	size := 0
	for _, k := range keys {
		v, _ := s.Get(ctx, k)
		if size += len(k) + len(v); len(page) > 0 && size > maxBytes {
			break
		}
		page = append(page, abi.KV{Key: k, Value: v})
	}
	return page, nil
}

func slicesSort(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// countHandler counts log records.
type countHandler struct{ n atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (h *countHandler) Handle(context.Context, slog.Record) error { h.n.Add(1); return nil }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler        { return h }
func (h *countHandler) WithGroup(string) slog.Handler             { return h }

// cacheDir is the compile cache of the engine's tests (their engines keep
// it in "wazero" under engine.Options.CacheDir), sealed with the key that
// theirs is sealed with (testhome.CacheKey, which TestMain writes into
// cacheKey): each module compiles once for both packages, whose tests run
// at once in make test. With a key of their own the two compiled the same
// Go guests twice, in two folders: about 1.5 s of CPU each.
var (
	cacheDir = filepath.Join(os.TempDir(), "sesame-test-wazero-cache", "wazero")
	cacheKey = filepath.Join(os.TempDir(), "sesame-test-wazero-cache.key")
)

func newHost(t testing.TB, logger *slog.Logger) *sandbox.Host {
	t.Helper()
	h, err := sandbox.NewHost(sandbox.Config{CacheDir: cacheDir, CacheKey: cacheKey, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func wasm(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(testwasm.Build(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t testing.TB, h *sandbox.Host, spec sandbox.Spec) *sandbox.Module {
	t.Helper()
	m, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatalf("load %s: %v", spec.Vault, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func hostile(t testing.TB, h *sandbox.Host, timeout time.Duration, instances int) *sandbox.Module {
	return load(t, h, sandbox.Spec{
		Vault: "Hostile", Wasm: wasm(t, "engine/testdata/guests/hostile"),
		Storage: newMemStorage(), Timeout: timeout, Instances: instances,
	})
}

func healthy(t testing.TB, h *sandbox.Host) *sandbox.Module {
	return load(t, h, sandbox.Spec{Vault: "Healthy", Wasm: wasm(t, "examples/go-vault"), Storage: newMemStorage()})
}

func getString(t testing.TB, m *sandbox.Module, name string) (string, error) {
	t.Helper()
	out, err := m.Call(context.Background(), abi.OpGet, []byte(name))
	if err != nil {
		return "", err
	}
	_, v, err := abi.DecodeSecret(out)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return string(v.Data), nil
}

func set(t testing.TB, m *sandbox.Module, name, value string) {
	t.Helper()
	v, _ := abi.AppendValue(nil, abi.Value{Type: abi.TypeString, Data: []byte(value)})
	if _, err := m.Call(context.Background(), abi.OpSet, []byte(name), v, nil); err != nil {
		t.Fatalf("set %s: %v", name, err)
	}
}

func wantStatus(t *testing.T, err error, s abi.Status) *sandbox.Error {
	t.Helper()
	var se *sandbox.Error
	if !errors.As(err, &se) || !errors.Is(err, s) {
		t.Fatalf("error = %v, want a sandbox error with status %v", err, s)
	}
	return se
}

func TestManifest(t *testing.T) {
	h := newHost(t, nil)
	m := healthy(t, h)
	mf := m.Manifest()
	if mf.Name != "go-vault" || mf.ABI != 1 || !mf.Metadata || mf.CaseSensitive {
		t.Errorf("manifest = %+v", mf)
	}
	for _, op := range []abi.Op{abi.OpGet, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpStat, abi.OpSetMetadata} {
		if !m.Supports(op) {
			t.Errorf("go-vault does not support %s", op)
		}
	}
	if m.Supports(abi.OpUnlock) {
		t.Error("go-vault claims unlock")
	}
	_, err := m.Call(context.Background(), abi.OpUnlock, []byte("pw"))
	wantStatus(t, err, abi.Unsupported)
}

// TestLoopingGuestIsStopped: an endless loop ends at the deadline with
// DeadlineExceeded while another vault keeps answering, and the looping
// vault answers again afterwards with a fresh instance.
// The deadline is a quarter of a second: the guest loops, and the test
// calls the other vault, until it passes, each on a core.
func TestLoopingGuestIsStopped(t *testing.T) {
	h := newHost(t, nil)
	bad := hostile(t, h, 250*time.Millisecond, 1)
	good := healthy(t, h)
	set(t, good, "db", "hunter2")

	done := make(chan error, 1)
	go func() {
		_, err := bad.Call(context.Background(), abi.OpGet, []byte("loop"))
		done <- err
	}()
	answered := 0
	for loop := true; loop; {
		select {
		case err := <-done:
			wantStatus(t, err, abi.DeadlineExceeded)
			loop = false
		default:
			got, err := getString(t, good, "db")
			if err != nil || got != "hunter2" {
				t.Fatalf("healthy vault while the other loops: %q, %v", got, err)
			}
			answered++
		}
	}
	if answered == 0 {
		t.Error("the healthy vault was never called while the hostile one looped")
	}
	if got, err := getString(t, bad, "count"); err != nil || got != "1" {
		t.Errorf("after the timeout: count = %q, %v; want a fresh instance (1)", got, err)
	}
}

// TestCanceledCallIsStopped: a caller that cancels its context (without a
// deadline: an agent's client hanging up) stops an endless loop at once,
// not at the vault's deadline (10 s here), with Unavailable; the next
// call runs on a fresh instance. Whether the cancel comes before the call
// begins or while it loops, the outcome is the same.
func TestCanceledCallIsStopped(t *testing.T) {
	h := newHost(t, nil)
	m := hostile(t, h, 10*time.Second, 1)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := m.Call(ctx, abi.OpGet, []byte("loop"))
	se := wantStatus(t, err, abi.Unavailable)
	if !strings.Contains(se.Message, "was canceled") {
		t.Errorf("message %q", se.Message)
	}
	if got, err := getString(t, m, "count"); err != nil || got != "1" {
		t.Errorf("after the cancel: count = %q, %v; want a fresh instance (1)", got, err)
	}
}

func TestTrapsDiscardTheInstance(t *testing.T) {
	h := newHost(t, nil)
	// A small memory limit makes "oom" reach it quickly.
	m := load(t, h, sandbox.Spec{
		Vault: "Hostile", Wasm: wasm(t, "engine/testdata/guests/hostile"),
		Storage: newMemStorage(), Timeout: 10 * time.Second, Instances: 1, Memory: 8 << 20,
	})
	for _, want := range []string{"1", "2"} {
		if got, err := getString(t, m, "count"); err != nil || got != want {
			t.Fatalf("count = %q, %v; want %s", got, err, want)
		}
	}
	for _, name := range []string{"panic", "exit", "oom", "recurse"} {
		start := time.Now()
		_, err := m.Call(context.Background(), abi.OpGet, []byte(name))
		t.Logf("%s: %v (%v)", name, err, time.Since(start))
		se := wantStatus(t, err, abi.Internal)
		if name == "exit" && !strings.Contains(se.Message, "exited with code 3") {
			t.Errorf("exit: message %q", se.Message)
		}
		if name == "panic" && !strings.Contains(se.Stderr, "panic on request") {
			t.Errorf("panic: stderr tail %q does not hold the panic", se.Stderr)
		}
		if strings.Contains(se.Error(), "panic on request") {
			t.Errorf("the guest's stderr leaked into Error(): %q", se.Error())
		}
		if got, err := getString(t, m, "count"); err != nil || got != "1" {
			t.Errorf("after %s: count = %q, %v; want a fresh instance", name, got, err)
		}
	}
}

func TestSleepIsInterrupted(t *testing.T) {
	h := newHost(t, nil)
	m := hostile(t, h, 0, 1)
	// The caller's deadline, shorter than the vault's, is the one that counts.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := m.Call(ctx, abi.OpGet, []byte("sleep"))
	wantStatus(t, err, abi.DeadlineExceeded)
}

func TestRealClockAndRandomness(t *testing.T) {
	h := newHost(t, nil)
	a := hostile(t, h, 0, 1)
	b := hostile(t, h, 0, 1)
	ra, err := a.Call(context.Background(), abi.OpGet, []byte("rand"))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Call(context.Background(), abi.OpGet, []byte("rand"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ra, rb) {
		t.Error("two instances drew the same random bytes: the random source is deterministic")
	}
	now, err := getString(t, a, "now")
	if err != nil {
		t.Fatal(err)
	}
	got, err := time.Parse(time.RFC3339Nano, now)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(got); d < -time.Minute || d > time.Minute {
		t.Errorf("guest clock says %v, host %v: the clock is fake", got, time.Now())
	}
}

func TestNothingIsGrantedByDefault(t *testing.T) {
	t.Setenv("SESAME_TEST_SECRET_ENV", "should-not-leak")
	h := newHost(t, nil)
	m := hostile(t, h, 0, 1)
	for name, check := range map[string]func(string) bool{
		"env":  func(s string) bool { return s == "" },
		"args": func(s string) bool { return !strings.Contains(s, "/") },
		"file": func(s string) bool { return !strings.Contains(s, "root:") },
	} {
		got, err := getString(t, m, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !check(got) {
			t.Errorf("%s: the guest saw %q", name, got)
		}
	}

	// Storage without the grant: the manifest asks for it, so loading fails
	// and names the grant.
	_, err := h.Load(context.Background(), sandbox.Spec{Vault: "NoStorage", Wasm: wasm(t, "engine/testdata/guests/hostile")})
	se := wantStatus(t, err, abi.InvalidArgument)
	if !strings.Contains(se.Message, `needs grant "storage"`) {
		t.Errorf("message %q does not name the grant", se.Message)
	}
}

func TestEnvGrant(t *testing.T) {
	h := newHost(t, nil)
	m := load(t, h, sandbox.Spec{
		Vault: "Env", Wasm: wasm(t, "engine/testdata/guests/hostile"), Storage: newMemStorage(),
		Env: map[string]string{"ONLY_THIS": "1"},
	})
	if got, err := getString(t, m, "env"); err != nil || got != "ONLY_THIS=1" {
		t.Errorf("env = %q, %v", got, err)
	}
}

func TestOutputLimits(t *testing.T) {
	logs := &countHandler{}
	h := newHost(t, slog.New(logs))
	m := hostile(t, h, 5*time.Second, 1)

	_, err := m.Call(context.Background(), abi.OpGet, []byte("bigout"))
	wantStatus(t, err, abi.TooLarge)

	_, err = m.Call(context.Background(), abi.OpGet, []byte("bigerr"))
	se := wantStatus(t, err, abi.Internal)
	if len(se.Message) > abi.MaxMessageBytes {
		t.Errorf("error message of %d bytes passed the %d limit", len(se.Message), abi.MaxMessageBytes)
	}

	if _, err := getString(t, m, "log"); err != nil {
		t.Fatal(err)
	}
	// 100 lines kept, plus one warning that counts the dropped ones.
	if n := logs.n.Load(); n != abi.MaxLogLines+1 {
		t.Errorf("logged %d records for a flood of 10000 lines, want %d", n, abi.MaxLogLines+1)
	}
}

func TestPinMismatchIsRefused(t *testing.T) {
	h := newHost(t, nil)
	_, err := h.Load(context.Background(), sandbox.Spec{
		Vault: "Pinned", Wasm: wasm(t, "examples/go-vault"), Storage: newMemStorage(),
		SHA256: strings.Repeat("0", 64),
	})
	se := wantStatus(t, err, abi.PermissionDenied)
	if !strings.Contains(se.Message, "does not match the pin") {
		t.Errorf("message %q", se.Message)
	}
}

func TestTrapMidSetLeavesNoPartialRecord(t *testing.T) {
	h := newHost(t, nil)
	st := newMemStorage()
	m := load(t, h, sandbox.Spec{Vault: "H", Wasm: wasm(t, "engine/testdata/guests/hostile"), Storage: st, Instances: 1})
	v, _ := abi.AppendValue(nil, abi.Value{Type: abi.TypeString, Data: []byte("x")})
	_, err := m.Call(context.Background(), abi.OpSet, []byte("trapmidset"), v, nil)
	wantStatus(t, err, abi.Internal)
	// The guest wrote one whole record before it trapped: what storage holds
	// is either that record or nothing, and the vault still answers.
	if _, err := m.Call(context.Background(), abi.OpList, []byte("*")); err != nil {
		t.Errorf("list after a trap mid-set: %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	h := newHost(t, nil)
	m := load(t, h, sandbox.Spec{Vault: "C", Wasm: wasm(t, "examples/go-vault"), Storage: newMemStorage(), Instances: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := "s" + string(rune('a'+g)) + string(rune('a'+i))
				v, _ := abi.AppendValue(nil, abi.Value{Type: abi.TypeString, Data: []byte(name)})
				if _, err := m.Call(context.Background(), abi.OpSet, []byte(name), v, nil); err != nil {
					errs <- err
					return
				}
				out, err := m.Call(context.Background(), abi.OpGet, []byte(name))
				if err != nil {
					errs <- err
					return
				}
				if _, val, _ := abi.DecodeSecret(out); string(val.Data) != name {
					errs <- errors.New("read " + string(val.Data) + " for " + name)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHostImportsRefuseBadPointers: a guest calls every host import with
// pointers and lengths outside its memory, overflowing ones, and bad
// parameters; each call is answered with a status, none traps, and the
// guest's own call succeeds. The age functions and http_origins answer
// PERMISSION_DENIED without their grant (identity, http), before they look
// at their arguments.
func TestHostImportsRefuseBadPointers(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, granted := range []bool{false, true} {
		spec := sandbox.Spec{Vault: "BadPtr", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/badptr.wat"), Storage: newMemStorage()}
		if granted {
			spec.Identity = id
			spec.HTTP = &sandbox.HTTPGrant{Origins: []string{"https://etcd.example:2379"}}
		}
		badPointers(t, load(t, newHost(t, nil), spec), granted)
	}
}

func badPointers(t *testing.T, m *sandbox.Module, granted bool) {
	t.Helper()
	denied := -int64(abi.PermissionDenied)
	grantedWant := func(status int64) int64 {
		if granted {
			return status
		}
		return denied
	}
	cases := []struct {
		name string
		want int64
	}{
		{"input past the end of memory", -2},
		{"input across the end of memory", -2},
		{"input of a missing argument", -1},
		{"output of 4 GiB", 8},
		{"output across the end of memory", 2},
		{"error outside memory", 2},
		{"log with an unknown level", 2},
		{"log across the end of memory", 2},
		{"kv_get key outside memory", -2},
		{"kv_get key too long", -8},
		{"kv_set value outside memory", 2},
		{"kv_set value of 2 GiB", 8},
		{"kv_delete with overflowing pointer and length", 8},
		{"kv_list destination outside memory", -2},
		{"kdf destination outside memory", 2},
		{"kdf with too many passes", 2},
		{"kdf with too much memory", 2},
		{"keyring_set outside memory", 2},
		{"keyring_get destination outside memory", -2},
		{"kv_add value outside memory", 2},
		{"kv_add of a key that is stored", int64(abi.Conflict)},
		{"key_generate of 15 bytes", -2},
		{"key_import outside memory", -2},
		{"key_argon2id with too many passes", -2},
		{"key_hkdf with handle 0, never given", -2},
		{"key_wrap with additional data of 4 GiB", -8},
		{"key_unwrap of a box outside memory", -2},
		{"key_seal with the largest handle, never given", -2},
		{"key_seal destination across the end of memory", -2},
		{"key_open of a box shorter than nonce and tag", -2},
		{"key_open of a box of 4 GiB", -8},
		{"key_hmac destination across the end of memory", 2},
		{"key_keep of handle -1", 2},
		{"key_release twice", 1},
		{"age_recipient destination across the end of memory", grantedWant(-2)},
		{"age_wrap with a recipient list of 4 GiB", grantedWant(-8)},
		{"age_unwrap of a file outside memory", grantedWant(-2)},
		{"kv_scan destination across the end of memory", -2},
		{"kv_scan after of 4 GiB", -8},
		{"http_origins destination across the end of memory", grantedWant(-2)},
	}
	out, err := m.Call(context.Background(), abi.OpGet, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 8*len(cases) {
		t.Fatalf("output of %d bytes, want %d", len(out), 8*len(cases))
	}
	for i, c := range cases {
		got := int64(binary.LittleEndian.Uint64(out[8*i:]))
		if got != c.want {
			t.Errorf("%s (identity granted: %v): host answered %d, want %d", c.name, granted, got, c.want)
		}
	}
}

// TestCompiledModulesAreCachedOnDisk loads a module into two hosts that
// share a cache folder: the folder then holds entries. The module is a small
// one (every module goes through the disk cache, however small): compiling
// the 2.6 MB Go example for real, in a new folder, took most of this
// package's compile time.
func TestCompiledModulesAreCachedOnDisk(t *testing.T) {
	compiles(t)
	dir, key := t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
	echo := testwasm.WAT(t, "engine/internal/sandbox/testdata/echo.wat")
	for range 2 {
		h, err := sandbox.NewHost(sandbox.Config{CacheDir: dir, CacheKey: key})
		if err != nil {
			t.Fatal(err)
		}
		load(t, h, sandbox.Spec{Vault: "Echo", Wasm: echo})
		h.Close(context.Background())
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("nothing was written to the compilation cache")
	}
}

// TestInterpretCompilesNothing: a module loaded to be interpreted
// (Spec.Interpret, for a one-shot command) runs, and nothing is written to
// the Host's compile cache: no machine code is compiled.
func TestInterpretCompilesNothing(t *testing.T) {
	dir, key := t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
	h, err := sandbox.NewHost(sandbox.Config{CacheDir: dir, CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	m := load(t, h, sandbox.Spec{Vault: "Echo", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/echo.wat"), Interpret: true})
	if out, err := m.Call(context.Background(), abi.OpGet, []byte("k")); err != nil || string(out) != "k" {
		t.Fatalf("get = %q, %v; want the argument back", out, err)
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			t.Errorf("the compile cache holds %s; want no file", path)
		}
		return nil
	})
}

// TestCallAfterCloseSaysClosed: a call that reaches a module being closed
// (an engine that stops while a request comes in) is refused as
// UNAVAILABLE, in words that say the vault was closed. It used to start
// an instance on the closing module, whose initialisation wazero ended
// with exit code 0: "extension exited with code 0 in sesame_init", an
// extension failure that was none.
func TestCallAfterCloseSaysClosed(t *testing.T) {
	h := newHost(t, nil)
	m := healthy(t, h)
	set(t, m, "a", "1")
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := m.Call(context.Background(), abi.OpGet, []byte("a"))
	se := wantStatus(t, err, abi.Unavailable)
	if !strings.Contains(se.Message, "closed") {
		t.Errorf("message %q does not say the vault was closed", se.Message)
	}
}
