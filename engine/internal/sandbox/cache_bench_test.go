package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// BenchmarkCacheCheck measures the check of one sealed entry of 12 MB (the
// size of the builtin secretstore's), the cost each load pays before its
// compile: "stat" when the entry is unchanged since it was sealed (the
// common path), "hash" when its stat changed and its content is hashed.
func BenchmarkCacheCheck(b *testing.B) {
	dir := b.TempDir()
	key := make([]byte, keySize)
	rand.Read(key)
	c := &sealedCache{dir: dir, key: key, logger: slog.New(slog.DiscardHandler), limit: maxEntries}
	name := strings.Repeat("ab", 32)
	entry := make([]byte, 12<<20)
	rand.Read(entry)
	if err := os.WriteFile(filepath.Join(dir, name), entry, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := c.seal(); err != nil {
		b.Fatal(err)
	}
	b.Run("stat", func(b *testing.B) {
		for b.Loop() {
			if problem, err := c.checkEntry(name); problem != "" || err != nil {
				b.Fatal(problem, err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.SetBytes(int64(len(entry)))
		for b.Loop() {
			if _, _, err := c.hashEntry(name); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompileCache measures what a new process pays to compile a
// module, side by side for each module: "memory" compiles it in memory,
// "disk" through a warm sealed disk cache (the seal check of the folder,
// then wazero's load of the entry), "empty" through an empty one (the
// compile, then the entry written and sealed: a first run). Each iteration
// is a new Host, as in a one-shot command, with its runtime, the module
// compiled, and closed; cpu-ns/op is the process's CPU time. "interpret"
// prepares it for wazero's interpreter instead (Spec.Interpret), which
// reads and writes no cache. Where
// "memory" would beat "disk", a module that small would be better compiled
// without the disk cache (none does: see cache.go); "empty" less "memory"
// is what writing the entry costs a first run.
func BenchmarkCompileCache(b *testing.B) {
	file := func(path string) []byte {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	root := testwasm.ModuleRoot(b)
	modules := []struct {
		name string
		raw  []byte
	}{
		{"echo.wat", testwasm.WAT(b, "engine/internal/sandbox/testdata/echo.wat")},
		{"wat-vault", testwasm.WAT(b, "examples/wat-vault/vault.wat")},
		{"c-vault", file(testwasm.Build(b, "examples/c-vault"))},
		{"dotenv", file(filepath.Join(root, "extensions", "dotenv.wasm"))},
		{"go-vault", file(testwasm.Build(b, "examples/go-vault"))},
		{"secretstore", file(filepath.Join(root, "extensions", "secretstore.wasm"))},
	}
	for _, mod := range modules {
		raw := mod.raw
		shape, err := parseShape(raw)
		if err != nil {
			b.Fatal(err)
		}
		wasm, err := instrument(raw, shape, abi.DefaultMemory)
		if err != nil {
			b.Fatal(err)
		}
		cfg := Config{CacheDir: b.TempDir(), CacheKey: filepath.Join(b.TempDir(), "key")}
		compile := func(b *testing.B, cfg Config, interpret bool) {
			h, err := NewHost(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close(context.Background())
			r, err := h.runtimeFor(context.Background(), runtimeKeyOf(wasm, abi.DefaultMemory/65536, interpret))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.compile(context.Background(), r, wasm, false); err != nil {
				b.Fatal(err)
			}
		}
		compile(b, cfg, false) // fills the cache
		b.Run(fmt.Sprintf("%s/%dB/memory", mod.name, len(raw)), func(b *testing.B) {
			defer testwasm.ReportCPU(b)()
			for b.Loop() {
				compile(b, Config{}, false)
			}
		})
		b.Run(fmt.Sprintf("%s/%dB/interpret", mod.name, len(raw)), func(b *testing.B) {
			defer testwasm.ReportCPU(b)()
			for b.Loop() {
				compile(b, Config{}, true)
			}
		})
		b.Run(fmt.Sprintf("%s/%dB/disk", mod.name, len(raw)), func(b *testing.B) {
			defer testwasm.ReportCPU(b)()
			for b.Loop() {
				compile(b, cfg, false)
			}
		})
		b.Run(fmt.Sprintf("%s/%dB/empty", mod.name, len(raw)), func(b *testing.B) {
			empty := Config{CacheKey: cfg.CacheKey}
			defer testwasm.ReportCPU(b)()
			for b.Loop() {
				b.StopTimer()
				empty.CacheDir = b.TempDir()
				b.StartTimer()
				compile(b, empty, false)
			}
		})
	}
}
