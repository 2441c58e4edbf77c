package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestCompileBombsAreRefusedAtLoad: a module declaring 2^32-1 locals in one
// function (which made wazero allocate 34 GB and killed `vault register` and
// `extension info`) and one declaring 100 M (2.5 GB and 10 s on every load)
// are refused by Register, which writes nothing, and by a vault registered
// with one in vaults.toml, each with an error that names the vault and the
// limit, and without the host allocating more than a few MiB.
func TestCompileBombsAreRefusedAtLoad(t *testing.T) {
	for _, locals := range []uint32{1<<32 - 1, 100_000_000} {
		t.Run(fmt.Sprint(locals), func(t *testing.T) {
			dir := t.TempDir()
			bomb := filepath.Join(dir, "bomb.wasm")
			if err := os.WriteFile(bomb, testwasm.LocalsBomb(locals), 0o600); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("module refused before compiling: code section: function 0 declares %d locals, over the limit of 50000", locals)
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, engine.ErrExtension) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "vault Bomb") {
					t.Errorf("%s: %v; want %v naming vault Bomb and saying %q", what, err, engine.ErrExtension, want)
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc

			e, path := emptyEngine(t)
			check("register", e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Bomb", Extension: bomb}}))
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused registration wrote the registry: %v", err)
			}

			reg := filepath.Join(dir, "vaults.toml")
			os.WriteFile(reg, []byte(fmt.Sprintf("[vaults.Bomb]\nextension = %q\n", bomb)), 0o600)
			e2, err := engine.Open(ctx, reg, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
			if err != nil {
				t.Fatal(err)
			}
			defer e2.Close()
			_, err = e2.Manifest(ctx, engine.ManifestRequest{Vault: "Bomb"})
			check("manifest of a registered vault", err)

			runtime.ReadMemStats(&ms)
			if grew := ms.TotalAlloc - before; grew > 64<<20 {
				t.Errorf("refusing the module allocated %d MB", grew>>20)
			}
		})
	}
}
