package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/sandbox"
)

// TestShareCompiledModules: under ShareCompiledModules(root), the first
// Host over root takes the real path (its compile writes a sealed cache
// entry); a later Host of the process loads the module from memory, with
// the folder emptied meanwhile: it writes no entry, and the module runs.
// A Host over another folder is left alone: it writes its own entry.
// (It installs the switch over folders of its own, and TestMain's again
// at its end.)
func TestShareCompiledModules(t *testing.T) {
	compiles(t)
	root, other, key := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
	sandbox.ShareCompiledModules(root)
	t.Cleanup(shareCompiledModules)
	spec := sandbox.Spec{Vault: "C", Wasm: wasm(t, "examples/c-vault"), Storage: newMemStorage()}
	loadIn := func(dir string) {
		t.Helper()
		h, err := sandbox.NewHost(sandbox.Config{CacheDir: dir, CacheKey: key})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		m, err := h.Load(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		set(t, m, "a", "1")
	}

	loadIn(root)
	entries, seals := cacheFiles(t, root)
	if len(entries) != 1 || len(seals) != 1 {
		t.Fatalf("the first load wrote entries %v and seals %v; want one of each", entries, seals)
	}
	for _, p := range append(entries, seals...) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	loadIn(root)
	if entries, seals := cacheFiles(t, root); len(entries)+len(seals) != 0 {
		t.Errorf("a load of a module the process keeps wrote entries %v and seals %v", entries, seals)
	}
	loadIn(other)
	if entries, _ := cacheFiles(t, other); len(entries) != 1 {
		t.Errorf("a Host over a folder not shared wrote entries %v; want one", entries)
	}
}

// cacheFiles returns the paths of the compiled modules (64 hex digits, as
// wazero names them) and of their seals under dir.
func cacheFiles(t *testing.T, dir string) (entries, seals []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, sealed := strings.CutSuffix(d.Name(), ".seal")
		if len(name) == 64 && !strings.Contains(name, ".") {
			if sealed {
				seals = append(seals, path)
			} else {
				entries = append(entries, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries, seals
}
