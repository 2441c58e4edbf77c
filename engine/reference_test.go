package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// echoVault writes a module that keeps the parameters sesame_init hands it
// and returns them, encoded (SPEC.md §7.2), as the string secret "p".
func echoVault(t *testing.T, dir string) string {
	t.Helper()
	return wat(t, dir, "echo", watVault(`{"abi":1,"name":"echo","version":"1"}`,
		`(import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (global $plen (mut i32) (i32.const 0))`,
		// the secret's head at 0x105: str "p", type 2, no metadata, value type 2;
		// the parameters follow it at 0x110
		`(data (i32.const 0x105) "\01\00\00\00p\02\00\00\00\00\02")
  (func (export "sesame_init") (param i32 i32) (result i32)
    (global.set $plen (call $input (i32.const 1) (i32.const 0x110) (i32.const 0x4000)))
    (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (call $output (i32.const 0x105) (i32.add (i32.const 11) (global.get $plen))))`))
}

// lockedVault answers every get with LOCKED.
type lockedVault struct{ *memvault.Vault }

func (lockedVault) Get(context.Context, string) (abi.Info, abi.Value, error) {
	return abi.Info{}, abi.Value{}, abi.Locked
}

// referenceEngine is an engine with a mounted vault Local holding a string,
// a secure string and a credential, and a mounted locked vault Shut.
// Every log line goes to the recorder, which the test's end checks for the
// secrets' values.
func referenceEngine(t *testing.T) (*engine.Engine, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vaults.toml")
	logs := &logRecorder{}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(filepath.Dir(path), "data"), CacheDir: testCache, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		logs.mu.Lock()
		defer logs.mu.Unlock()
		for _, r := range logs.records {
			if strings.Contains(r, "s3cret-ref-9d1f") || strings.Contains(r, "pw-ref-77aa") {
				t.Errorf("a log line shows a secret: %s", r)
			}
		}
	})
	local := memvault.New(memvault.Options{})
	for name, v := range map[string]abi.Value{
		"etcd/password": {Type: abi.TypeSecureString, Data: []byte("s3cret-ref-9d1f")},
		"user":          {Type: abi.TypeString, Data: []byte("team-bot")},
		"cred":          {Type: abi.TypeCredential, UserName: "u", Data: []byte("pw-ref-77aa")},
	} {
		if err := local.Set(ctx, name, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Mount("Local", local); err != nil {
		t.Fatal(err)
	}
	if err := e.Mount("Shut", lockedVault{memvault.New(memvault.Options{})}); err != nil {
		t.Fatal(err)
	}
	return e, path, echoVault(t, filepath.Dir(path))
}

// paramsSeen registers the echo vault as name with params and returns the
// parameters it received.
func paramsSeen(t *testing.T, e *engine.Engine, mod, name string, params map[string]any) (map[string]string, error) {
	t.Helper()
	err := e.Register(ctx, engine.RegisterRequest{AllowClobber: true, Registration: engine.Registration{Name: name, Extension: mod, Parameters: params}})
	if err != nil {
		return nil, err
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "p", Vault: name})
	if err != nil {
		t.Fatal(err)
	}
	got, err := abi.DecodeParams([]byte(s.Value.(string)))
	if err != nil {
		t.Fatal(err)
	}
	return got, nil
}

// TestSecretReference: the extension receives the secret's text; the
// registry keeps the reference.
func TestSecretReference(t *testing.T) {
	t.Parallel()
	e, path, mod := referenceEngine(t)
	got, err := paramsSeen(t, e, mod, "Team", map[string]any{
		"password": "sesame:Local/etcd/password", "user": "sesame:local/user", "prefix": "team/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["password"] != "s3cret-ref-9d1f" || got["user"] != "team-bot" || got["prefix"] != "team/" {
		t.Errorf("the extension saw %q", got)
	}
	toml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(toml), "s3cret") || !strings.Contains(string(toml), `password = "sesame:Local/etcd/password"`) {
		t.Errorf("vaults.toml:\n%s", toml)
	}
}

// TestSecretReferenceErrors: each failure names the parameter, the
// reference and the cause, and never the value of a secret.
func TestSecretReferenceErrors(t *testing.T) {
	t.Parallel()
	e, _, mod := referenceEngine(t)
	// B refers to A, which is not registered yet: registering A with a
	// reference to B closes the circle.
	if _, err := paramsSeen(t, e, mod, "B", map[string]any{"x": "plain"}); err != nil {
		t.Fatal(err)
	}
	toml := filepath.Join(filepath.Dir(mod), "vaults.toml")
	b, _ := os.ReadFile(toml)
	os.WriteFile(toml, []byte(strings.Replace(string(b), `x = "plain"`, `x = "sesame:A/y"`, 1)), 0o600)

	for _, c := range []struct {
		name, param, ref string
		sentinel         error
		want             string
	}{
		{"cycle", "token", "sesame:B/y", engine.ErrInvalidArgument, `parameter "token" refers to sesame:B/y: the references go round in a circle: A → B → A`},
		{"self", "token", "sesame:A/y", engine.ErrInvalidArgument, "the references go round in a circle: A → A"},
		{"missing vault", "token", "sesame:Nowhere/y", engine.ErrUnavailable, `parameter "token" refers to sesame:Nowhere/y: cannot get secret "y" in vault Nowhere: vault not found: no vault named "Nowhere" is registered`},
		{"missing secret", "token", "sesame:Local/nope", engine.ErrUnavailable, `parameter "token" refers to sesame:Local/nope: cannot get secret "nope" in vault Local: secret not found`},
		{"not a string", "token", "sesame:Local/cred", engine.ErrInvalidArgument, `parameter "token" refers to sesame:Local/cred: the secret is of type credential; a reference takes a string or a secure string`},
		{"locked", "token", "sesame:Shut/y", engine.ErrUnavailable, `parameter "token" refers to sesame:Shut/y: cannot get secret "y" in vault Shut: vault is locked`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := paramsSeen(t, e, mod, "A", map[string]any{c.param: c.ref})
			if !errors.Is(err, c.sentinel) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %v containing %q", err, c.sentinel, c.want)
			}
			if errors.Is(err, engine.ErrSecretNotFound) || errors.Is(err, engine.ErrLocked) {
				t.Errorf("%v: the other vault's failure reads as this vault's own", err)
			}
			for _, secret := range []string{"s3cret-ref-9d1f", "pw-ref-77aa"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}

	var g engine.Grants
	err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "C", Extension: mod, Grants: g,
		Parameters: map[string]any{"token": "sesame:Local"}}})
	if !errors.Is(err, engine.ErrRegistry) || !strings.Contains(err.Error(), `parameter "token": a secret reference is sesame:VAULT/NAME, with the secret's name after the slash`) {
		t.Errorf("a reference without a name: %v", err)
	}
}

// TestSecretReferenceCycleDoesNotWait: two registered vaults whose
// parameters name each other's secrets fail at once with the circle named,
// in a fresh engine that loads them from vaults.toml: loading A must not
// wait for B, which waits for A.
func TestSecretReferenceCycleDoesNotWait(t *testing.T) {
	t.Parallel()
	e, path, mod := referenceEngine(t)
	for _, name := range []string{"A", "B"} {
		if _, err := paramsSeen(t, e, mod, name, map[string]any{"x": "plain-" + name}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	toml := strings.Replace(strings.Replace(string(b), `x = "plain-A"`, `x = "sesame:B/p"`, 1), `x = "plain-B"`, `x = "sesame:a/p"`, 1)
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(filepath.Dir(path), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	short, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = fresh.Get(short, engine.GetRequest{Name: "p", Vault: "A"})
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), `parameter "x" refers to sesame:B/p: the references go round in a circle: A → B → A`) {
		t.Errorf("got %v", err)
	}
}
