package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestImportTellsTheBatch: a vault that exports sesame_batch (SPEC.md §5.3,
// "Where a batch begins and ends") is told the begin of an import's batch
// before its first set and the end after its last, within the batch: the
// sets between see what the begin wrote, and everything commits together.
// A set outside a batch is not told. An end that fails fails the batch:
// nothing of it is written, and the error is the vault's.
func TestImportTellsTheBatch(t *testing.T) {
	wasm := testwasm.Build(t, "engine/testdata/guests/batchc")
	dir := t.TempDir()
	reg, data := filepath.Join(dir, "vaults.toml"), filepath.Join(dir, "data")
	if err := os.WriteFile(reg, []byte(fmt.Sprintf("[vaults.V]\nextension = %q\ngrants.storage = true\n", wasm)), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	logged := func() string {
		t.Helper()
		recs := ssRecords(t, engine.StorageFile(data, "V", wasm))
		if recs["mark"] != nil {
			t.Errorf("the begin's mark outlived the batch")
		}
		return string(recs["log"])
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "alone", Value: "x", Vault: "V"}); err != nil {
		t.Fatal(err)
	}
	secrets := []engine.ImportSecret{{Name: "b", Value: "x"}, {Name: "c", Value: "x"}}
	if _, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	want := "set alone out\nbegin\nset b in\nset c in\nend\n"
	if got := logged(); got != want {
		t.Fatalf("log:\n%s\nwant:\n%s", got, want)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "fail-end", Value: "x", Vault: "V"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: []engine.ImportSecret{{Name: "d", Value: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "the end fails, as asked") {
		t.Fatalf("import with a failing end: %v", err)
	}
	if got := logged(); got != want+"set fail-end out\n" {
		t.Errorf("a failed batch wrote:\n%s", got)
	}
}
