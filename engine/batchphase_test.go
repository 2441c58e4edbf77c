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
	e, data := storageVault(t, wasm)
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
	_, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: []engine.ImportSecret{{Name: "d", Value: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "the end fails, as asked") {
		t.Fatalf("import with a failing end: %v", err)
	}
	if got := logged(); got != want+"set fail-end out\n" {
		t.Errorf("a failed batch wrote:\n%s", got)
	}
}

// storageVault opens an engine over a registry of one vault V, the module
// at wasm granted storage, and returns it with its data folder.
func storageVault(t *testing.T, wasm string) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	reg, data := filepath.Join(dir, "vaults.toml"), filepath.Join(dir, "data")
	if err := os.WriteFile(reg, []byte(fmt.Sprintf("[vaults.V]\nextension = %q\ngrants.storage = true\n", wasm)), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, data
}

// TestImportSetReports: a vault whose set reports what it did (SPEC.md §4,
// set_reports), in its storage area only, is not asked a get before each
// set of an import: its report counts each secret as added, replaced or
// unchanged. With NoClobber a replaced secret fails the import, and its
// batch writes nothing, not even what the sets before it wrote. A report
// that is not one byte from 0 to 2 fails the import the same way. WhatIf
// (which must not write) asks get, as before, and writes nothing.
func TestImportSetReports(t *testing.T) {
	wasm := testwasm.Build(t, "engine/testdata/guests/reportc")
	e, data := storageVault(t, wasm)
	logged := func() string {
		t.Helper()
		return string(ssRecords(t, engine.StorageFile(data, "V", wasm))["log"])
	}
	secrets := func(names ...string) []engine.ImportSecret {
		var out []engine.ImportSecret
		for _, n := range names {
			out = append(out, engine.ImportSecret{Name: n, Value: "x"})
		}
		return out
	}
	res, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets("new-a", "old-b", "same-c")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.Actions), `[add secret "new-a" to vault V replace secret "old-b" in vault V]`; got != want || res.Unchanged != 1 {
		t.Errorf("actions %s, %d unchanged; want %s, 1 unchanged", got, res.Unchanged, want)
	}
	want := "set new-a\nset old-b\nset same-c\n"
	if got := logged(); got != want {
		t.Fatalf("log:\n%s\nwant (no get):\n%s", got, want)
	}
	for _, c := range []struct {
		names     []string
		noClobber bool
		failed    int
		err       string
	}{
		{[]string{"new-d", "same-e", "old-f"}, true, 3, "A secret with name old-f already exists in vault V."},
		{[]string{"new-g", "bad-h"}, false, 2, "the set's report is 2 bytes, want 1"},
	} {
		res, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets(c.names...), NoClobber: c.noClobber})
		if err == nil || !strings.Contains(err.Error(), c.err) || res.Failed != c.failed {
			t.Errorf("import of %q: %v, Failed %d; want %q at %d", c.names, err, res.Failed, c.err, c.failed)
		}
		if got := logged(); got != want {
			t.Errorf("the failed import of %q wrote:\n%s", c.names, got)
		}
	}
	// The get's NOT_FOUND, not the set's report, makes old-i an addition.
	res, err = e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets("old-i"), Change: engine.Change{WhatIf: true}})
	if got, want := fmt.Sprint(res.Actions), `[add secret "old-i" to vault V]`; err != nil || got != want {
		t.Errorf("what-if: %s, %v; want %s", got, err, want)
	}
	if got := logged(); got != want {
		t.Errorf("what-if wrote:\n%s", got)
	}
}

// TestSetReportsAskNoStat: a set on a vault whose set reports what it did
// (SPEC.md §4, set_reports) is one call, not a get (or stat) and then a
// set: the report gives the Action's Replace. A set that must know first
// (--no-clobber, what-if) still asks.
func TestSetReportsAskNoStat(t *testing.T) {
	wasm := testwasm.Build(t, "engine/testdata/guests/reportc")
	e, data := storageVault(t, wasm)
	logged := func() string {
		t.Helper()
		return string(ssRecords(t, engine.StorageFile(data, "V", wasm))["log"])
	}
	for _, c := range []struct {
		name    string
		replace bool
	}{{"new-a", false}, {"old-b", true}, {"same-c", true}} {
		act, err := e.Set(ctx, engine.SetRequest{Vault: "V", Name: c.name, Value: "x"})
		if err != nil || act.Replace != c.replace {
			t.Errorf("set %s: %v, Replace %v; want Replace %v", c.name, err, act.Replace, c.replace)
		}
	}
	want := "set new-a\nset old-b\nset same-c\n"
	if got := logged(); got != want {
		t.Fatalf("log:\n%s\nwant (no get):\n%s", got, want)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Vault: "V", Name: "new-d", Value: "x", NoClobber: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Vault: "V", Name: "new-e", Value: "x", Change: engine.Change{WhatIf: true}}); err != nil {
		t.Fatal(err)
	}
	if got, want := logged(), want+"get new-d\nset new-d\nget new-e\n"; got != want {
		t.Errorf("log:\n%s\nwant (a get before a no-clobber set, and for a what-if):\n%s", got, want)
	}
}
