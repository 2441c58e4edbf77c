package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testhome"
)

// TestTestsHaveAHomeOfTheirOwn opens an engine as the tests do, giving its
// data and cache folders but leaving the cache key to the default, and
// loads the built-in vault: the key it seals the cache with is the test
// home's (TestMain), not the user's ~/.config/sesame/cache.key, which the
// tests once created and used.
func TestTestsHaveAHomeOfTheirOwn(t *testing.T) {
	tmp := os.TempDir() + string(filepath.Separator)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"} {
		if d := os.Getenv(v); !strings.HasPrefix(d, tmp) {
			t.Errorf("%s = %q: not a test home in %s", v, d, tmp)
		}
	}
	dir := t.TempDir()
	e, err := engine.Open(ctx, filepath.Join(dir, "vaults.toml"), &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "V", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "n", Value: "v", Vault: "V"}); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "sesame", "cache.key"))
	switch {
	case err != nil:
		t.Errorf("no cache key in the test home: %v", err)
	case !bytes.Equal(key, testhome.CacheKey()):
		t.Error("the test home's cache key is not testhome.CacheKey")
	}
}
