package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/internal/testwasm"
)

var testCache = filepath.Join(os.TempDir(), "sesame-test-wazero-cache")

// newEngine opens an engine over a fresh registry whose LocalStore is the
// go-vault example compiled to wasm, with a real storage area on disk, and
// whose LocalStore2 is an in-process vault without metadata support.
func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	wasm := testwasm.Build(t, "examples/go-vault")
	reg := fmt.Sprintf(`default = "LocalStore"

[vaults.LocalStore]
extension = %q
description = "go-vault over host storage"

  [vaults.LocalStore.grants]
  storage = true
`, wasm)
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Mount("LocalStore2", memvault.New(memvault.Options{Name: "mem", NoMetadata: true})); err != nil {
		t.Fatal(err)
	}
	return e
}

var ctx = context.Background()

// The four examples of the Set-Secret reference page, through the Go API.
func TestReferenceExamples(t *testing.T) {
	e := newEngine(t)

	t.Run("1 default vault", func(t *testing.T) {
		if _, err := e.Set(ctx, "Secret1", "SecretValue", engine.SetOptions{}); err != nil {
			t.Fatal(err)
		}
		s, err := e.Get(ctx, "Secret1", "")
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != "SecretValue" || s.Type != engine.TypeString || s.Vault != "LocalStore" {
			t.Errorf("got %v %v in %s", s.Type, s.Value, s.Vault)
		}
	})

	t.Run("2 secure string in a named vault", func(t *testing.T) {
		if _, err := e.Set(ctx, "Secret2", engine.SecureString("typed at a prompt"), engine.SetOptions{Vault: "LocalStore"}); err != nil {
			t.Fatal(err)
		}
		s, err := e.Get(ctx, "Secret2", "")
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != engine.SecureString("typed at a prompt") || s.Type != engine.TypeSecureString {
			t.Errorf("got %v", s.Type)
		}
	})

	t.Run("3 metadata", func(t *testing.T) {
		md := engine.Metadata{"Expiration": time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := e.Set(ctx, "TargetSecret", "token", engine.SetOptions{Vault: "LocalStore", Metadata: md}); err != nil {
			t.Fatal(err)
		}
		infos, err := e.Info(ctx, "TargetSecret", "")
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.Info{{Name: "TargetSecret", Type: engine.TypeString, Vault: "LocalStore", Metadata: md}}
		if !reflect.DeepEqual(infos, want) {
			t.Errorf("info = %+v, want %+v", infos, want)
		}
	})

	t.Run("4 metadata refused", func(t *testing.T) {
		md := engine.Metadata{"Expiration": time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)}
		_, err := e.Set(ctx, "PublishSecret", "token", engine.SetOptions{Vault: "LocalStore2", Metadata: md})
		const want = "Can't store secret PublishSecret. Vault LocalStore2 doesn't support secret metadata."
		if err == nil || err.Error() != want || !errors.Is(err, engine.ErrMetadataUnsupported) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		if _, err := e.Get(ctx, "PublishSecret", "LocalStore2"); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Errorf("the refused secret was written: %v", err)
		}
	})
}

func TestMetadataRefusalKeepsThePriorSecret(t *testing.T) {
	e := newEngine(t)
	if _, err := e.Set(ctx, "PublishSecret", "old", engine.SetOptions{Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Set(ctx, "PublishSecret", "new", engine.SetOptions{Vault: "LocalStore2", Metadata: engine.Metadata{"k": "v"}})
	if !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Fatalf("err = %v", err)
	}
	s, err := e.Get(ctx, "PublishSecret", "LocalStore2")
	if err != nil || s.Value != "old" {
		t.Errorf("after the refusal: %v, %v; want the old value", s.Value, err)
	}
}

func TestNoClobberKeepsTheOldValue(t *testing.T) {
	e := newEngine(t)
	for _, vault := range []string{"LocalStore", "LocalStore2"} {
		if _, err := e.Set(ctx, "db", "old", engine.SetOptions{Vault: vault}); err != nil {
			t.Fatal(err)
		}
		// Case-insensitive LocalStore: "DB" is the same secret.
		_, err := e.Set(ctx, "DB", "new", engine.SetOptions{Vault: vault, NoClobber: true})
		want := "A secret with name DB already exists in vault " + vault + "."
		if !errors.Is(err, engine.ErrNoClobber) || err.Error() != want {
			t.Fatalf("%s: err = %v, want %q", vault, err, want)
		}
		if s, _ := e.Get(ctx, "db", vault); s.Value != "old" {
			t.Errorf("%s: value after NoClobber = %v", vault, s.Value)
		}
	}
}

func TestWhatIfAndConfirmTouchNothing(t *testing.T) {
	e := newEngine(t)
	act, err := e.Set(ctx, "k", "v", engine.SetOptions{Change: engine.Change{WhatIf: true}})
	if err != nil || act.String() != `add secret "k" to vault LocalStore` {
		t.Fatalf("what-if: %v, %v", act, err)
	}
	if _, err := e.Get(ctx, "k", ""); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Fatalf("what-if wrote: %v", err)
	}
	if _, err := e.Set(ctx, "k", "v", engine.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	asked := 0
	no := engine.Change{Confirm: func(a engine.Action) bool { asked++; return false }}
	act, err = e.Set(ctx, "k", "v2", engine.SetOptions{Change: no})
	if !errors.Is(err, engine.ErrDeclined) || asked != 1 || !act.Replace {
		t.Fatalf("declined set: %v, asked %d, %+v", err, asked, act)
	}
	if _, err := e.Remove(ctx, "k", "LocalStore", no); !errors.Is(err, engine.ErrDeclined) {
		t.Fatalf("declined remove: %v", err)
	}
	if _, err := e.SetInfo(ctx, "k", engine.Metadata{"a": 1}, "", engine.Change{WhatIf: true}); err != nil {
		t.Fatalf("what-if set-info: %v", err)
	}
	s, err := e.Get(ctx, "k", "")
	if err != nil || s.Value != "v" || len(s.Metadata) != 0 {
		t.Errorf("after declined and what-if changes: %+v, %v", s, err)
	}
	if _, err := e.Remove(ctx, "missing", "LocalStore", engine.Change{WhatIf: true}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("what-if remove of a missing secret: %v", err)
	}
}

func TestValueTypesRoundTrip(t *testing.T) {
	e := newEngine(t)
	values := map[string]any{
		"bytes":  []byte{0, 1, 2, 255},
		"string": "héllo",
		"secure": engine.SecureString("s3cret"),
		"cred":   engine.Credential{UserName: "alice", Password: "pw"},
		"table":  engine.Hashtable{"a": "x", "b": []byte{1}, "c": engine.SecureString("y"), "d": engine.Credential{UserName: "u", Password: "p"}},
	}
	for name, v := range values {
		if _, err := e.Set(ctx, name, v, engine.SetOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, err := e.Get(ctx, name, "LocalStore")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(s.Value, v) {
			t.Errorf("%s: got %#v, want %#v", name, s.Value, v)
		}
	}
}

func TestBadInputIsRefusedBeforeAnyVaultCall(t *testing.T) {
	e := newEngine(t)
	cases := []struct {
		name  string
		value any
		opts  engine.SetOptions
		is    error
		msg   string
	}{
		{"", "v", engine.SetOptions{}, engine.ErrInvalidName, "cannot be empty"},
		{"a*", "v", engine.SetOptions{}, engine.ErrInvalidName, "wildcards"},
		{"a?b", "v", engine.SetOptions{}, engine.ErrInvalidName, "wildcards"},
		{"a\nb", "v", engine.SetOptions{}, engine.ErrInvalidName, "control characters"},
		{strings.Repeat("n", 257), "v", engine.SetOptions{}, engine.ErrInvalidName, "at most 256 bytes"},
		{"x", 42, engine.SetOptions{}, engine.ErrInvalidValue, "type int is not a secret type"},
		{"x", engine.Hashtable{"inner": engine.Hashtable{}}, engine.SetOptions{}, engine.ErrInvalidValue, `hashtable key "inner"`},
		{"x", engine.Hashtable{"k": 3.5}, engine.SetOptions{}, engine.ErrInvalidValue, `type float64 in hashtable key "k"`},
		{"x", "v", engine.SetOptions{Metadata: engine.Metadata{"when": 1.5}}, engine.ErrInvalidValue, `metadata key "when" has type float64`},
		{"x", "v", engine.SetOptions{Vault: "Local*"}, engine.ErrInvalidName, "wildcards"},
		{"x", "v", engine.SetOptions{Vault: "Nowhere"}, engine.ErrVaultNotFound, `"Nowhere"`},
	}
	for _, c := range cases {
		_, err := e.Set(ctx, c.name, c.value, c.opts)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Set(%q, %T): err = %v, want %v containing %q", c.name, c.value, err, c.is, c.msg)
		}
		var ee *engine.Error
		if !errors.As(err, &ee) || ee.Op != "set" {
			t.Errorf("Set(%q): not an *engine.Error with Op set: %#v", c.name, err)
		}
	}
	if infos, _ := e.Info(ctx, "*", ""); len(infos) != 0 {
		t.Errorf("bad input wrote secrets: %+v", infos)
	}
}

func TestNoDefaultVault(t *testing.T) {
	e := newEngine(t)
	if err := e.SetDefault(ctx, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.Set(ctx, "x", "v", engine.SetOptions{})
	if !errors.Is(err, engine.ErrNoDefaultVault) {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.Remove(ctx, "x", "", engine.Change{}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("remove without a vault: %v", err)
	}
}

func TestGetSearchOrder(t *testing.T) {
	e := newEngine(t)
	if _, err := e.Set(ctx, "shared", "from-2", engine.SetOptions{Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, "shared", "")
	if err != nil || s.Vault != "LocalStore2" {
		t.Fatalf("only in LocalStore2: %+v, %v", s, err)
	}
	if _, err := e.Set(ctx, "shared", "from-default", engine.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err = e.Get(ctx, "shared", "")
	if err != nil || s.Vault != "LocalStore" || s.Value != "from-default" {
		t.Errorf("in both: %+v, %v; want the default vault's", s, err)
	}
	_, err = e.Get(ctx, "nowhere", "")
	if !errors.Is(err, engine.ErrSecretNotFound) || err.Error() != `cannot get secret "nowhere": secret not found` {
		t.Errorf("missing everywhere: %v", err)
	}
}

func TestInfoFiltersAndSorts(t *testing.T) {
	e := newEngine(t)
	for _, n := range []string{"beta", "Alpha", "alpha2", "gamma"} {
		if _, err := e.Set(ctx, n, "v", engine.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.Set(ctx, "alpha-mem", "v", engine.SetOptions{Vault: "LocalStore2"})
	infos, err := e.Info(ctx, "a*", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range infos {
		got = append(got, in.Vault+"/"+in.Name)
	}
	want := []string{"LocalStore/Alpha", "LocalStore/alpha2", "LocalStore2/alpha-mem"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("info a* = %v, want %v", got, want)
	}
	if infos, _ := e.Info(ctx, "?eta", "LocalStore"); len(infos) != 1 || infos[0].Name != "beta" {
		t.Errorf("info ?eta = %+v", infos)
	}
}

func TestSetInfoAndRemove(t *testing.T) {
	e := newEngine(t)
	if _, err := e.Set(ctx, "k", "v", engine.SetOptions{Metadata: engine.Metadata{"a": "1", "b": 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetInfo(ctx, "k", engine.Metadata{"c": "3"}, "", engine.Change{}); err != nil {
		t.Fatal(err)
	}
	s, _ := e.Get(ctx, "k", "")
	if !reflect.DeepEqual(s.Metadata, engine.Metadata{"c": "3"}) {
		t.Errorf("metadata after set-info = %v; set-info replaces, not merges", s.Metadata)
	}
	// Overwriting without metadata keeps it.
	e.Set(ctx, "k", "v2", engine.SetOptions{})
	if s, _ := e.Get(ctx, "k", ""); !reflect.DeepEqual(s.Metadata, engine.Metadata{"c": "3"}) {
		t.Errorf("metadata after an overwrite without metadata = %v", s.Metadata)
	}
	if _, err := e.SetInfo(ctx, "k", engine.Metadata{"x": "y"}, "LocalStore2", engine.Change{}); !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Errorf("set-info on a vault without metadata: %v", err)
	}
	if _, err := e.Remove(ctx, "k", "localstore", engine.Change{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Remove(ctx, "k", "LocalStore", engine.Change{})
	if !errors.Is(err, engine.ErrSecretNotFound) || !strings.Contains(err.Error(), `cannot remove secret "k" in vault LocalStore`) {
		t.Errorf("second remove: %v", err)
	}
}

func TestCopyBetweenVaults(t *testing.T) {
	e := newEngine(t)
	md := engine.Metadata{"owner": "ops"}
	if _, err := e.Set(ctx, "api", engine.Credential{UserName: "bot", Password: "pw"}, engine.SetOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}
	src, _ := e.Info(ctx, "api", "LocalStore")
	// The target has no metadata support: refused, nothing written.
	if _, err := e.Copy(ctx, src[0], engine.SetOptions{Vault: "LocalStore2"}); !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Fatalf("copy with metadata to LocalStore2: %v", err)
	}
	e.SetInfo(ctx, "api", engine.Metadata{}, "LocalStore", engine.Change{})
	src, _ = e.Info(ctx, "api", "LocalStore")
	if _, err := e.Copy(ctx, src[0], engine.SetOptions{Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, "api", "LocalStore2")
	if err != nil || s.Value != (engine.Credential{UserName: "bot", Password: "pw"}) {
		t.Errorf("copied: %+v, %v", s, err)
	}
	if _, err := e.Copy(ctx, src[0], engine.SetOptions{Vault: "LocalStore2", NoClobber: true}); !errors.Is(err, engine.ErrNoClobber) {
		t.Errorf("copy with NoClobber onto an existing secret: %v", err)
	}
}

func TestErrorsNeverCarryValues(t *testing.T) {
	e := newEngine(t)
	const secret = "xyzzy-very-secret-value"
	var errs []error
	_, err := e.Set(ctx, "a*", secret, engine.SetOptions{})
	errs = append(errs, err)
	_, err = e.Set(ctx, "k", engine.Hashtable{"x": engine.Hashtable{"y": secret}}, engine.SetOptions{})
	errs = append(errs, err)
	_, err = e.Set(ctx, "k", secret, engine.SetOptions{Metadata: engine.Metadata{"m": []string{secret}}})
	errs = append(errs, err)
	e.Set(ctx, "k", secret, engine.SetOptions{})
	_, err = e.Set(ctx, "k", secret, engine.SetOptions{NoClobber: true})
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
			t.Errorf("error carries the secret: %v", err)
		}
	}
	if s := fmt.Sprint(engine.SecureString(secret), engine.Credential{UserName: "u", Password: secret}); strings.Contains(s, secret) {
		t.Errorf("formatting shows the secret: %s", s)
	}
}

// Without a home folder and without the XDG variables, Open refuses to
// guess where the vaults' storage goes (it once put it in the temporary
// folder, where it would be lost unnoticed) and names what to set.
func TestOpenWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	for _, v := range []string{"XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"} {
		t.Setenv(v, "")
	}
	e, err := engine.Open(filepath.Join(t.TempDir(), "vaults.toml"), nil)
	if err == nil {
		e.Close()
		t.Fatal("Open succeeded without a home folder")
	}
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "(set HOME or XDG_DATA_HOME)") {
		t.Errorf("got %v; want ErrUnavailable naming HOME and XDG_DATA_HOME", err)
	}
}
