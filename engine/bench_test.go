package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The plugin boundary, measured side by side: the same get and set of a
// 32-byte value through a native Go vault (the floor), through the sandbox
// running the go-vault example (with an in-memory storage area, so that only
// the boundary is measured), and through the whole engine with storage on
// disk. Run with `make bench`.

// memArea is an in-memory storage area.
type memArea struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memArea) Get(_ context.Context, k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(k)]
	if !ok {
		return nil, abi.NotFound
	}
	return bytes.Clone(v), nil
}

func (s *memArea) Set(_ context.Context, k, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(k)] = bytes.Clone(v)
	return nil
}

func (s *memArea) Add(_ context.Context, k, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[string(k)]; ok {
		return abi.Conflict
	}
	s.m[string(k)] = bytes.Clone(v)
	return nil
}

func (s *memArea) Delete(_ context.Context, k []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(k))
	return nil
}

func (s *memArea) List(_ context.Context, prefix, after []byte, limit int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && (after == nil || k > string(after)) {
			out = append(out, []byte(k))
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out[:min(len(out), limit)], nil
}

func (s *memArea) Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]abi.KV, error) {
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

// The compile cache of the benchmarks, shared with the sandbox's tests.
var (
	benchCache    = filepath.Join(os.TempDir(), "sesame-test-wazero-cache")
	benchCacheKey = filepath.Join(os.TempDir(), "sesame-test-wazero-cache.key")
)

var benchValue = abi.Value{Type: abi.TypeString, Data: bytes.Repeat([]byte("s"), 32)}

func wasmBenchVault(b *testing.B) Vault {
	wasm, err := os.ReadFile(testwasm.Build(b, "examples/go-vault"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := sandbox.NewHost(sandbox.Config{CacheDir: benchCache, CacheKey: benchCacheKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	mod, err := h.Load(context.Background(), sandbox.Spec{Vault: "bench", Wasm: wasm, Storage: &memArea{m: map[string][]byte{}}})
	if err != nil {
		b.Fatal(err)
	}
	return newWasmVault(mod)
}

func benchVaults(b *testing.B) map[string]Vault {
	return map[string]Vault{
		"native": memvault.New(memvault.Options{}),
		"wasm":   wasmBenchVault(b),
	}
}

func BenchmarkVaultGet(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"native", "wasm"} {
		v := benchVaults(b)[name]
		if err := v.Set(ctx, "bench", benchValue, nil); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := v.Get(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVaultSet(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"native", "wasm"} {
		v := benchVaults(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Set(ctx, "bench", benchValue, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEngine measures the full path a Go program pays: engine checks,
// the sandbox and a bbolt storage area on disk (Set includes an fsync).
func BenchmarkEngine(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "vaults.toml")
	e, err := Open(ctx, path, &Options{DataDir: dir, CacheDir: benchCache, CacheKey: benchCacheKey})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	wasm := testwasm.Build(b, "examples/go-vault")
	if err := e.Register(ctx, RegisterRequest{Registration: Registration{Name: "Disk", Extension: wasm, Grants: Grants{Storage: true}}}); err != nil {
		b.Fatal(err)
	}
	if err := e.Mount("Native", memvault.New(memvault.Options{})); err != nil {
		b.Fatal(err)
	}
	value := string(benchValue.Data)
	for _, vault := range []string{"Native", "Disk"} {
		if _, err := e.Set(ctx, SetRequest{Name: "bench", Value: value, Vault: vault}); err != nil {
			b.Fatal(err)
		}
		b.Run("Get/"+vault, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Get(ctx, GetRequest{Name: "bench", Vault: vault}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Set/"+vault, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Set(ctx, SetRequest{Name: "bench", Value: value, Vault: vault}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
