package engine_test

import (
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// cacheEnv is a registry with one c-vault vault over storage, and a
// compile cache and cache key of its own. The tests are about the cache, not
// the guest: a 17 KB C module compiles in milliseconds, where go-vault's
// 2.6 MB took a second of CPU per compile, which these tests pay for every
// time (a fresh cache, or none at all).
type cacheEnv struct {
	reg, data, cache, key string
}

func newCacheEnv(t *testing.T) cacheEnv {
	t.Helper()
	dir := t.TempDir()
	env := cacheEnv{
		reg:   filepath.Join(dir, "vaults.toml"),
		data:  filepath.Join(dir, "data"),
		cache: filepath.Join(dir, "cache"),
		key:   filepath.Join(dir, "config", "cache.key"),
	}
	reg := "[vaults.V]\nextension = " + strconv.Quote(testwasm.Build(t, "examples/c-vault")) + "\ngrants = { storage = true }\n"
	if err := os.WriteFile(env.reg, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

func (c cacheEnv) open(t *testing.T, log *lockedBuffer) *engine.Engine {
	t.Helper()
	e, err := engine.Open(ctx, c.reg, &engine.Options{DataDir: c.data, CacheDir: c.cache, CacheKey: c.key, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// cacheEntries returns the compiled modules in the cache: wazero names
// them with 64 hex digits.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 && !strings.ContainsAny(d.Name(), ".") {
			found = append(found, path)
		}
		return nil
	})
	return found
}

// tamper changes machine code in a wazero cache entry the way an attacker
// would: bytes of the executable flipped, its CRC computed again, written
// in place, and the modification time set back.
func tamper(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// magic "WAZEVO", version length and version, function count, one
	// offset of 8 bytes per function, executable length, executable, CRC32C.
	i := 6 + 1 + int(b[6])
	funcs := int(binary.LittleEndian.Uint32(b[i:]))
	i += 4 + 8*funcs
	n := int(binary.LittleEndian.Uint64(b[i:]))
	exe := b[i+8 : i+8+n]
	for j := n / 2; j < n/2+64 && j < n; j++ {
		exe[j] ^= 0xff
	}
	binary.LittleEndian.PutUint32(b[i+8+n:], crc32.Checksum(exe, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// A compiled module changed in the cache (machine code and CRC rewritten,
// mtime set back) is reported, removed and compiled again: the vault
// answers with the right secret and the tampered code never runs.
func TestTamperedCacheEntryIsRecompiled(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	var log lockedBuffer
	e := env.open(t, &log)
	if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Value: "the right value", Vault: "V"}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	entries := cacheEntries(t, env.cache)
	if len(entries) == 0 {
		t.Fatal("nothing was written to the compile cache")
	}
	tampered := map[string][]byte{}
	for _, p := range entries {
		tamper(t, p)
		tampered[p], _ = os.ReadFile(p)
	}

	e = env.open(t, &log)
	defer e.Close()
	s, err := e.Get(ctx, engine.GetRequest{Name: "s", Vault: "V"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != "the right value" {
		t.Errorf("got %q, want the right value", s.Value)
	}
	for p, bad := range tampered {
		if !strings.Contains(log.String(), "entry="+p) {
			t.Errorf("the log does not name the tampered entry %s:\n%s", p, log.String())
		}
		if now, err := os.ReadFile(p); err == nil && string(now) == string(bad) {
			t.Errorf("the tampered entry %s is still in the cache", p)
		}
	}
	if len(cacheEntries(t, env.cache)) == 0 {
		t.Error("the module was not cached again")
	}
}

// A cache folder its group may write is not used: the engine compiles in
// memory and says why once.
func TestWritableCacheFolderIsNotUsed(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t)
	if err := os.Mkdir(env.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(env.cache, 0o770); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	e := env.open(t, &log)
	defer e.Close()
	if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Value: "v", Vault: "V"}); err != nil {
		t.Fatal(err)
	}
	if got := cacheEntries(t, env.cache); len(got) != 0 {
		t.Errorf("compiled code was written to the group-writable cache: %v", got)
	}
	if want := "chmod go-w " + env.cache; strings.Count(log.String(), want) != 1 {
		t.Errorf("the log should say once why the cache is not used (%s):\n%s", want, log.String())
	}
}

// TestInterpretBuiltinCOnly: an engine opened with Options.Interpret (a
// one-shot get or set while the compile cache is empty) runs the builtin
// secretstore in wazero's interpreter, which writes nothing to the compile
// cache, and compiles a vault that is not built in (the C example), whose
// entry is written; an engine without it compiles the secretstore too.
func TestInterpretBuiltinCOnly(t *testing.T) {
	if _, ok := extensions.Lookup("secretstore"); !ok {
		t.Skip("no builtin secretstore")
	}
	env := newCacheEnv(t)
	f, err := os.OpenFile(env.reg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("[vaults.S]\nextension = \"builtin:secretstore\"\nparameters = { authentication = \"none\" }\ngrants = { storage = true }\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	use := func(interpret bool, vault string) []string {
		t.Helper()
		e, err := engine.Open(ctx, env.reg, &engine.Options{DataDir: env.data, CacheDir: env.cache, CacheKey: env.key, Interpret: interpret})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Value: "v", Vault: vault}); err != nil {
			t.Fatal(err)
		}
		return cacheEntries(t, env.cache)
	}
	if got := use(true, "S"); len(got) != 0 {
		t.Fatalf("the interpreted secretstore left compiled entries %v", got)
	}
	if got := use(true, "V"); len(got) != 1 {
		t.Fatalf("the C example under Interpret left %d compiled entries, want its own", len(got))
	}
	if got := use(false, "S"); len(got) != 2 {
		t.Fatalf("the secretstore without Interpret: %d compiled entries, want 2", len(got))
	}
}
