package engine_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

func emptyEngine(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vaults.toml")
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, path
}

func TestRegisterUnregisterDefault(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	wasm := testwasm.Build(t, "examples/c-vault")
	defaultOf := func(e *engine.Engine) string {
		t.Helper()
		d, err := e.DefaultVault(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	reg := engine.Registration{Name: "First", Extension: wasm, Grants: engine.Grants{Storage: true}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if d := defaultOf(e); d != "First" {
		t.Errorf("the first vault is not the default: %q", d)
	}
	reg.Name = "Second"
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); !errors.Is(err, engine.ErrVaultExists) {
		t.Errorf("registering Second twice: %v", err)
	}
	reg.Description = "replaced"
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg, AllowClobber: true, Default: true}); err != nil {
		t.Fatal(err)
	}
	vs, err := e.Vaults(ctx)
	if err != nil || len(vs) != 2 || vs[1].Description != "replaced" || !vs[1].Default || vs[0].Default {
		t.Fatalf("vaults = %+v, %v", vs, err)
	}
	// Another engine on the same file sees the change.
	other, err := engine.Open(ctx, path, &engine.Options{DataDir: t.TempDir(), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if d := defaultOf(other); d != "Second" {
		t.Errorf("other engine: default = %q", d)
	}
	if err := e.SetDefault(ctx, engine.SetDefaultRequest{Vault: "first"}); err != nil || defaultOf(e) != "First" {
		t.Errorf("set default by another case: %v, %q", err, defaultOf(e))
	}
	if err := e.SetDefault(ctx, engine.SetDefaultRequest{Vault: "Nope"}); !errors.Is(err, engine.ErrVaultNotFound) {
		t.Errorf("set default to an unknown vault: %v", err)
	}
	if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "First"}); err != nil {
		t.Fatal(err)
	}
	if d := defaultOf(e); d != "" {
		t.Errorf("unregistering the default left %q as default", d)
	}
	if err := e.Unregister(ctx, engine.UnregisterRequest{Vault: "First"}); !errors.Is(err, engine.ErrVaultNotFound) {
		t.Errorf("unregistering twice: %v", err)
	}
	if err := e.Test(ctx, engine.TestRequest{Vault: "Second"}); err != nil {
		t.Errorf("test: %v", err)
	}
	mf, err := e.Manifest(ctx, engine.ManifestRequest{Vault: "Second"})
	if err != nil || mf.Name != "c-vault" || !mf.CaseSensitive {
		t.Errorf("manifest: %+v, %v", mf, err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: "Second", Password: []byte("pw")}); !errors.Is(err, engine.ErrUnsupported) {
		t.Errorf("unlock of a vault without a password: %v", err)
	}
}

func TestRegisterChecksTheExtensionFirst(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00"), 0o600) // a valid, empty module
	cases := []struct {
		reg  engine.Registration
		is   error
		want string
	}{
		{engine.Registration{Name: "Bad", Extension: bad}, engine.ErrExtension, "missing export sesame_abi_v1"},
		{engine.Registration{Name: "Gone", Extension: "missing.wasm"}, engine.ErrExtension, "missing.wasm"},
		{engine.Registration{Name: "NoGrant", Extension: testwasm.Build(t, "examples/c-vault")}, engine.ErrExtension, `needs grant "storage"`},
		{engine.Registration{Name: "Pinned", Extension: testwasm.Build(t, "examples/c-vault"), SHA256: strings.Repeat("ab", 32), Grants: engine.Grants{Storage: true}}, engine.ErrExtension, "does not match the pin"},
		{engine.Registration{Name: "Builtin", Extension: "builtin:nonesuch"}, engine.ErrExtension, `unknown builtin extension "nonesuch"`},
		{engine.Registration{Name: "bad name", Extension: bad}, engine.ErrInvalidName, "letters, digits"},
	}
	for _, c := range cases {
		err := e.Register(ctx, engine.RegisterRequest{Registration: c.reg})
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("register %s: %v, want %v containing %q", c.reg.Name, err, c.is, c.want)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed registrations wrote the registry: %v", err)
	}
}

func TestCorruptRegistryIsAnErrorAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "vaults.toml")
	corrupt := []byte("default = \"x\"\n[vaults.x]\nextension = \"builtin:x\"\nstroage = true\n")
	os.WriteFile(path, corrupt, 0o600)
	_, err := engine.Open(ctx, path, &engine.Options{DataDir: dir, NoCache: true})
	if !errors.Is(err, engine.ErrRegistry) || !strings.Contains(err.Error(), `vaults.toml:4: unknown key "vaults.x.stroage"`) {
		t.Fatalf("open: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, corrupt) {
		t.Error("the corrupt registry was changed")
	}
}

// A registry that goes bad after Open is an error of DefaultVault and
// Vaults: DefaultVault used to drop the error and answer from the last
// registry it had read (a stale name, or "" as if there were no default).
func TestAccessorsReportABadRegistry(t *testing.T) {
	e, path := emptyEngine(t)
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "A", Extension: "builtin:dotenv", Grants: engine.Grants{Directory: t.TempDir()}}}); err != nil {
		t.Fatal(err)
	}
	clock := testonly.UseFakeClock(t)
	engine.NoWatch(e)
	if d, err := e.DefaultVault(ctx); err != nil || d != "A" {
		t.Fatalf("default vault = %q, %v", d, err)
	}
	if err := os.WriteFile(path, []byte("default = \"A\"\n[vaults.A]\nextension = \"builtin:dotenv\"\nstroage = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * time.Millisecond) // another process's write is seen once the recheck window has passed
	d, err := e.DefaultVault(ctx)
	if !errors.Is(err, engine.ErrRegistry) || !strings.Contains(err.Error(), `unknown key "vaults.A.stroage"`) {
		t.Errorf("default vault of a bad registry = %q, %v; want an error wrapping ErrRegistry that names the key", d, err)
	}
	if regs, err := e.Vaults(ctx); !errors.Is(err, engine.ErrRegistry) {
		t.Errorf("vaults of a bad registry = %+v, %v; want an error wrapping ErrRegistry", regs, err)
	}
}
