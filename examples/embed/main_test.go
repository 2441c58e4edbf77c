package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestRun runs the example twice on a copy of its registry: the first run
// stores the token, the second reads the same one back.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	reg, err := os.ReadFile("vaults.toml")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(config, reg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(os.TempDir(), "sesame-test-embed-cache"))
	for range 2 {
		if err := run(context.Background(), config, "api-token"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(engine.StorageFile(filepath.Join(dir, ".sesame"), "AppSecrets", "builtin:secretstore")); err != nil {
		t.Errorf("the vault did not keep its data beside the registry: %v", err)
	}
}
