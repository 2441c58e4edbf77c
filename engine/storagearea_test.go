package engine_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// A vault's storage area belongs to its name and extension: the hostile
// guest (engine/testdata/guests/hostile), whose "keys" secret lists every
// key of its area, registered in place of a secretstore vault, sees an
// empty area, whether it replaces the registration or comes after an
// unregister, under the name in another case; the secretstore gets its
// secret back, its file untouched meanwhile; KeepStorage alone hands the
// area over.
func TestStorageBelongsToIdentity(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	data := filepath.Join(filepath.Dir(path), "data")
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")
	const store = "builtin:secretstore"
	storeFile := engine.StorageFile(data, "A", store)
	hostileFile := engine.StorageFile(data, "A", hostile)

	var got engine.StorageReport
	report := func(r engine.StorageReport) { got = r }
	register := func(name, ext string, r engine.RegisterRequest) engine.StorageReport {
		t.Helper()
		got = engine.StorageReport{}
		r.Report = report
		r.Registration = engine.Registration{Name: name, Extension: ext, Grants: engine.Grants{Storage: true}}
		if ext == store {
			r.Registration.Parameters = map[string]any{"authentication": "none"}
		}
		if err := e.Register(ctx, r); err != nil {
			t.Fatalf("register %s with %s: %v", name, ext, err)
		}
		return got
	}
	unregister := func(name string) engine.StorageReport {
		t.Helper()
		got = engine.StorageReport{}
		if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: name, Report: report}); err != nil {
			t.Fatalf("unregister %s: %v", name, err)
		}
		return got
	}
	wantReport := func(r, want engine.StorageReport) {
		t.Helper()
		if r != want {
			t.Errorf("storage report:\n got %+v\nwant %+v", r, want)
		}
	}
	wantCanary := func() {
		t.Helper()
		if v := getValue(t, e, "canary", "A"); v != "canary value" {
			t.Errorf("the secretstore's canary reads %q", v)
		}
	}

	wantReport(register("A", store, engine.RegisterRequest{}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: store, Outcome: engine.StorageNew, Path: storeFile})
	if _, err := e.Set(ctx, engine.SetRequest{Name: "canary", Value: "canary value", Vault: "A"}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(storeFile)
	if err != nil {
		t.Error(err)
	}

	// Replaced by another extension: a new area; the old one is left.
	wantReport(register("A", hostile, engine.RegisterRequest{AllowClobber: true}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: hostile, Outcome: engine.StorageNew, Path: hostileFile, Left: storeFile, LeftBy: store})
	wantEmptyKeys(t, e, "A")
	if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "A", RemoveStorage: true}); err != nil {
		t.Fatal(err)
	}
	wantReport(register("A", store, engine.RegisterRequest{}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: store, Outcome: engine.StorageReturned, Path: storeFile})
	wantCanary()

	// Unregistered, then registered as "a" by the other extension: a new
	// area, never the secretstore's.
	wantReport(unregister("A"), engine.StorageReport{Op: "unregister", Vault: "A", Extension: store, Outcome: engine.StorageKept, Path: storeFile})
	wantReport(register("a", hostile, engine.RegisterRequest{}),
		engine.StorageReport{Op: "register", Vault: "a", Extension: hostile, Outcome: engine.StorageNew, Path: hostileFile})
	wantEmptyKeys(t, e, "a")
	if _, err := e.Set(ctx, engine.SetRequest{Name: "planted", Value: "by the hostile module", Vault: "a"}); err != nil {
		t.Fatal(err)
	}
	// Its own area is its own again after an unregister.
	unregister("a")
	wantReport(register("A", hostile, engine.RegisterRequest{}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: hostile, Outcome: engine.StorageReturned, Path: hostileFile})
	if keys := getValue(t, e, "keys", "A"); keys != "s/planted" {
		t.Errorf("the hostile module's own area holds %q, want its own key s/planted", keys)
	}
	unregister("A")

	// The secretstore registered again: its secret is back, its file as it
	// was, whatever the other extension did meanwhile.
	if after, err := os.ReadFile(storeFile); err != nil || !bytes.Equal(before, after) {
		t.Error("the secretstore's file changed while another extension had the name")
	}
	wantReport(register("A", store, engine.RegisterRequest{}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: store, Outcome: engine.StorageReturned, Path: storeFile})
	wantCanary()
	// The same extension again (new parameters, or a new build): the same area.
	wantReport(register("A", store, engine.RegisterRequest{AllowClobber: true}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: store, Outcome: engine.StorageKept, Path: storeFile})
	wantCanary()

	// KeepStorage hands the area over, and says so. The hostile module's
	// own area, kept since, is in the way until it is removed.
	err = e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "A", Extension: hostile, Grants: engine.Grants{Storage: true}}, AllowClobber: true, KeepStorage: true})
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("handing over onto an area kept for the new extension: %v, want ErrConflict", err)
	}
	wantCanary() // the failed registration changed nothing
	if err := os.Remove(hostileFile); err != nil {
		t.Fatal(err)
	}
	wantReport(register("A", hostile, engine.RegisterRequest{AllowClobber: true, KeepStorage: true}),
		engine.StorageReport{Op: "register", Vault: "A", Extension: hostile, Outcome: engine.StorageHandedOver, Path: hostileFile, From: store})
	if keys := getValue(t, e, "keys", "A"); keys == "" {
		t.Error("KeepStorage did not hand the secretstore's area over: the new extension sees no keys")
	}
	if _, err := os.Stat(storeFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the handed-over area is still at the secretstore's file: %v", err)
	}
}

// Unregister keeps the storage area by default, and RemoveStorage deletes
// it; a vault without one reports nothing.
func TestUnregisterStorage(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	file := engine.StorageFile(filepath.Join(filepath.Dir(path), "data"), "A", "builtin:secretstore")
	reg := engine.Registration{Name: "A", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "canary", Value: "canary value", Vault: "A"}); err != nil {
		t.Fatal(err)
	}
	var got engine.StorageReport
	if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "a", RemoveStorage: true, Report: func(r engine.StorageReport) { got = r }}); err != nil {
		t.Fatal(err)
	}
	want := engine.StorageReport{Op: "unregister", Vault: "A", Extension: "builtin:secretstore", Outcome: engine.StorageRemoved, Path: file}
	if got != want {
		t.Errorf("storage report:\n got %+v\nwant %+v", got, want)
	}
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil || len(entries) != 0 {
		t.Errorf("the storage folder after RemoveStorage holds %v (%v), want nothing", entries, err)
	}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "canary", Vault: "A"}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("get canary after its storage was removed: %v, want ErrSecretNotFound", err)
	}
}

// A failed registration leaves no storage file behind, and a handed-over
// area goes back to the registration it came from.
func TestRegisterFailureLeavesStorage(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	data := filepath.Join(filepath.Dir(path), "data")
	reg := engine.Registration{Name: "A", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "canary", Value: "canary value", Vault: "A"}); err != nil {
		t.Fatal(err)
	}
	// builtin:dotenv needs a directory grant: it fails to load.
	bad := engine.Registration{Name: "A", Extension: "builtin:dotenv", Grants: engine.Grants{Storage: true}}
	for _, keep := range []bool{false, true} {
		err := e.Register(ctx, engine.RegisterRequest{Registration: bad, AllowClobber: true, KeepStorage: keep})
		if !errors.Is(err, engine.ErrExtension) {
			t.Fatalf("register a module that does not load (keep %v): %v", keep, err)
		}
		if _, err := os.Stat(engine.StorageFile(data, "A", "builtin:dotenv")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the failed registration (keep %v) left a storage file: %v", keep, err)
		}
		if v := getValue(t, e, "canary", "A"); v != "canary value" {
			t.Errorf("after the failed registration (keep %v) the canary reads %q", keep, v)
		}
	}
}

// A store written by a release before the storage identity, at
// storage/<name>.db, goes to the vault registered under that name when the
// new release first loads it, or when it first replaces or unregisters it;
// a store whose vault was unregistered before the upgrade (its extension
// unknown) blocks registering the name until KeepStorage hands it over.
func TestStorageFromEarlierRelease(t *testing.T) {
	t.Parallel()
	const store = "builtin:secretstore"
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")
	// earlier writes what the earlier release left: vaults.toml
	// registering A with the secretstore, and its storage/a.db.
	earlier := func(t *testing.T) (e *engine.Engine, data string) {
		e, path := emptyEngine(t)
		data = filepath.Join(filepath.Dir(path), "data")
		reg := engine.Registration{Name: "A", Extension: store, Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Set(ctx, engine.SetRequest{Name: "canary", Value: "canary value", Vault: "A"}); err != nil {
			t.Fatal(err)
		}
		e.Close()
		if err := os.Rename(engine.StorageFile(data, "A", store), filepath.Join(data, "storage", "a.db")); err != nil {
			t.Fatal(err)
		}
		e, err := engine.Open(ctx, path, &engine.Options{DataDir: data, CacheDir: testCache})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e, data
	}
	legacyGone := func(t *testing.T, data string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(data, "storage", "a.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("storage/a.db is still there: %v", err)
		}
	}

	t.Run("kept by its registration", func(t *testing.T) {
		e, data := earlier(t)
		if v := getValue(t, e, "canary", "A"); v != "canary value" {
			t.Errorf("the canary reads %q", v)
		}
		legacyGone(t, data)
		if _, err := os.Stat(engine.StorageFile(data, "A", store)); err != nil {
			t.Error(err)
		}
	})

	t.Run("not handed to a replacement", func(t *testing.T) {
		e, data := earlier(t)
		var got engine.StorageReport
		err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "a", Extension: hostile, Grants: engine.Grants{Storage: true}}, AllowClobber: true, Report: func(r engine.StorageReport) { got = r }})
		if err != nil {
			t.Fatal(err)
		}
		wantEmptyKeys(t, e, "a")
		if got.Left != engine.StorageFile(data, "A", store) || got.LeftBy != store {
			t.Errorf("the report names what is left as %q by %q", got.Left, got.LeftBy)
		}
		legacyGone(t, data)
	})

	t.Run("kept on unregister", func(t *testing.T) {
		e, data := earlier(t)
		if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "A"}); err != nil {
			t.Fatal(err)
		}
		reg := engine.Registration{Name: "A", Extension: hostile, Grants: engine.Grants{Storage: true}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
			t.Fatal(err)
		}
		wantEmptyKeys(t, e, "A")
		legacyGone(t, data)
		if _, err := os.Stat(engine.StorageFile(data, "A", store)); err != nil {
			t.Errorf("the unregistered secretstore's area: %v", err)
		}
	})

	t.Run("unregistered before the upgrade", func(t *testing.T) {
		e, data := earlier(t)
		// The earlier release unregistered A: the file stays, and nothing
		// tells the new release which extension wrote it.
		os.Remove(filepath.Join(filepath.Dir(data), "vaults.toml"))
		legacy := filepath.Join(data, "storage", "a.db")
		before := mustRead(t, legacy)
		// Registering the name refuses, naming the file, whatever the
		// extension, until the user hands it over.
		for _, ext := range []string{hostile, store} {
			reg := engine.Registration{Name: "A", Extension: ext, Grants: engine.Grants{Storage: true}}
			err := e.Register(ctx, engine.RegisterRequest{Registration: reg})
			if !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), legacy) {
				t.Errorf("register A with %s over a store of an earlier release: %v, want ErrConflict naming %s", ext, err, legacy)
			}
		}
		if after := mustRead(t, legacy); !bytes.Equal(before, after) {
			t.Error("the refused registrations changed the store")
		}
		vs, err := e.Vaults(ctx)
		if err != nil || len(vs) != 0 {
			t.Errorf("vaults after the refused registrations: %v, %v", vs, err)
		}
		// A vault without storage does not care: it registers, and the
		// store stays unclaimed.
		dotenv := engine.Registration{Name: "A", Extension: "builtin:dotenv", Grants: engine.Grants{Directory: t.TempDir()}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: dotenv}); err != nil {
			t.Fatal(err)
		}
		if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "A"}); err != nil {
			t.Fatal(err)
		}
		if after := mustRead(t, legacy); !bytes.Equal(before, after) {
			t.Error("a vault without storage changed the store")
		}
		// Handed over explicitly: the secretstore has it back.
		var got engine.StorageReport
		reg := engine.Registration{Name: "A", Extension: store, Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg, KeepStorage: true, Report: func(r engine.StorageReport) { got = r }}); err != nil {
			t.Fatal(err)
		}
		want := engine.StorageReport{Op: "register", Vault: "A", Extension: store, Outcome: engine.StorageHandedOver, Path: engine.StorageFile(data, "A", store)}
		if got != want {
			t.Errorf("storage report:\n got %+v\nwant %+v", got, want)
		}
		if v := getValue(t, e, "canary", "A"); v != "canary value" {
			t.Errorf("the canary reads %q", v)
		}
		legacyGone(t, data)
	})
}

func wantEmptyKeys(t *testing.T, e *engine.Engine, vault string) {
	t.Helper()
	if keys := getValue(t, e, "keys", vault); keys != "" {
		t.Errorf("the hostile module registered as %s reads the keys of another extension's storage:\n%s", vault, keys)
	}
}
