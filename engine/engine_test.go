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
// c-vault example compiled to wasm, with a real storage area on disk, and
// whose LocalStore2 is an in-process vault without metadata support. A C
// guest, because what the tests over it check is the engine's: with the
// go-vault example (a 2.6 MB Go guest that each engine decodes and
// validates again, and whose Go runtime starts in each instance), the 19
// tests of this package that use newEngine, the etcd tests aside, took 2.7-3.0 s
// of CPU, and take 1.2-1.5 s over c-vault. The tests of a case-insensitive
// vault use newEngineOver with go-vault.
func newEngine(t testing.TB) *engine.Engine {
	t.Helper()
	return newEngineOver(t, "examples/c-vault")
}

// newEngineOver is newEngine with LocalStore the extension built from the
// folder ext (testwasm.Build).
func newEngineOver(t testing.TB, ext string) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	wasm := testwasm.Build(t, ext)
	reg := fmt.Sprintf(`default = "LocalStore"

[vaults.LocalStore]
extension = %q
description = "%s over host storage"

  [vaults.LocalStore.grants]
  storage = true
`, wasm, filepath.Base(ext))
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
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
	t.Parallel()
	e := newEngine(t)

	t.Run("1 default vault", func(t *testing.T) {
		if _, err := e.Set(ctx, engine.SetRequest{Name: "Secret1", Value: "SecretValue"}); err != nil {
			t.Fatal(err)
		}
		s, err := e.Get(ctx, engine.GetRequest{Name: "Secret1"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != "SecretValue" || s.Type != engine.TypeString || s.Vault != "LocalStore" {
			t.Errorf("got %v %v in %s", s.Type, s.Value, s.Vault)
		}
	})

	t.Run("2 secure string in a named vault", func(t *testing.T) {
		if _, err := e.Set(ctx, engine.SetRequest{Name: "Secret2", Value: engine.SecureString("typed at a prompt"), Vault: "LocalStore"}); err != nil {
			t.Fatal(err)
		}
		s, err := e.Get(ctx, engine.GetRequest{Name: "Secret2"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != engine.SecureString("typed at a prompt") || s.Type != engine.TypeSecureString {
			t.Errorf("got %v", s.Type)
		}
	})

	t.Run("3 metadata", func(t *testing.T) {
		md := engine.Metadata{"Expiration": time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := e.Set(ctx, engine.SetRequest{Name: "TargetSecret", Value: "token", Vault: "LocalStore", Metadata: md}); err != nil {
			t.Fatal(err)
		}
		infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "TargetSecret"})
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
		_, err := e.Set(ctx, engine.SetRequest{Name: "PublishSecret", Value: "token", Vault: "LocalStore2", Metadata: md})
		const want = "Can't store secret PublishSecret. Vault LocalStore2 doesn't support secret metadata."
		if err == nil || err.Error() != want || !errors.Is(err, engine.ErrMetadataUnsupported) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		if _, err := e.Get(ctx, engine.GetRequest{Name: "PublishSecret", Vault: "LocalStore2"}); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Errorf("the refused secret was written: %v", err)
		}
	})
}

func TestMetadataRefusalKeepsThePriorSecret(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if _, err := e.Set(ctx, engine.SetRequest{Name: "PublishSecret", Value: "old", Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Set(ctx, engine.SetRequest{Name: "PublishSecret", Value: "new", Vault: "LocalStore2", Metadata: engine.Metadata{"k": "v"}})
	if !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Fatalf("err = %v", err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "PublishSecret", Vault: "LocalStore2"})
	if err != nil || s.Value != "old" {
		t.Errorf("after the refusal: %v, %v; want the old value", s.Value, err)
	}
}

func TestNoClobberKeepsTheOldValue(t *testing.T) {
	t.Parallel()
	e := newEngineOver(t, "examples/go-vault") // case-insensitive
	for _, vault := range []string{"LocalStore", "LocalStore2"} {
		if _, err := e.Set(ctx, engine.SetRequest{Name: "db", Value: "old", Vault: vault}); err != nil {
			t.Fatal(err)
		}
		// Case-insensitive LocalStore: "DB" is the same secret.
		_, err := e.Set(ctx, engine.SetRequest{Name: "DB", Value: "new", Vault: vault, NoClobber: true})
		want := "A secret with name DB already exists in vault " + vault + "."
		if !errors.Is(err, engine.ErrNoClobber) || err.Error() != want {
			t.Fatalf("%s: err = %v, want %q", vault, err, want)
		}
		if s, _ := e.Get(ctx, engine.GetRequest{Name: "db", Vault: vault}); s.Value != "old" {
			t.Errorf("%s: value after NoClobber = %v", vault, s.Value)
		}
	}
}

func TestWhatIfAndConfirmTouchNothing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	act, err := e.Set(ctx, engine.SetRequest{Name: "k", Value: "v", Change: engine.Change{WhatIf: true}})
	if err != nil || act.String() != `add secret "k" to vault LocalStore` {
		t.Fatalf("what-if: %v, %v", act, err)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "k"}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Fatalf("what-if wrote: %v", err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	asked := 0
	no := engine.Change{Confirm: func(a engine.Action) bool { asked++; return false }}
	act, err = e.Set(ctx, engine.SetRequest{Name: "k", Value: "v2", Change: no})
	if !errors.Is(err, engine.ErrDeclined) || asked != 1 || !act.Replace {
		t.Fatalf("declined set: %v, asked %d, %+v", err, asked, act)
	}
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "k", Vault: "LocalStore", Change: no}); !errors.Is(err, engine.ErrDeclined) {
		t.Fatalf("declined remove: %v", err)
	}
	if _, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: "k", Metadata: engine.Metadata{"a": 1}, Change: engine.Change{WhatIf: true}}); err != nil {
		t.Fatalf("what-if set-info: %v", err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "k"})
	if err != nil || s.Value != "v" || len(s.Metadata) != 0 {
		t.Errorf("after declined and what-if changes: %+v, %v", s, err)
	}
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "missing", Vault: "LocalStore", Change: engine.Change{WhatIf: true}}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("what-if remove of a missing secret: %v", err)
	}
}

func TestValueTypesRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	values := map[string]any{
		"bytes":  []byte{0, 1, 2, 255},
		"string": "héllo",
		"secure": engine.SecureString("s3cret"),
		"cred":   engine.Credential{UserName: "alice", Password: "pw"},
		"table":  engine.Hashtable{"a": "x", "b": []byte{1}, "c": engine.SecureString("y"), "d": engine.Credential{UserName: "u", Password: "p"}},
	}
	for name, v := range values {
		if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: v}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: "LocalStore"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(s.Value, v) {
			t.Errorf("%s: got %#v, want %#v", name, s.Value, v)
		}
	}
}

func TestBadInputIsRefusedBeforeAnyVaultCall(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	cases := []struct {
		req engine.SetRequest
		is  error
		msg string
	}{
		{engine.SetRequest{Name: "", Value: "v"}, engine.ErrInvalidName, "cannot be empty"},
		{engine.SetRequest{Name: "a*", Value: "v"}, engine.ErrInvalidName, "wildcards"},
		{engine.SetRequest{Name: "a?b", Value: "v"}, engine.ErrInvalidName, "wildcards"},
		{engine.SetRequest{Name: "a\nb", Value: "v"}, engine.ErrInvalidName, "control characters"},
		{engine.SetRequest{Name: strings.Repeat("n", 257), Value: "v"}, engine.ErrInvalidName, "at most 256 bytes"},
		{engine.SetRequest{Name: "x", Value: 42}, engine.ErrInvalidValue, "type int is not a secret type"},
		{engine.SetRequest{Name: "x", Value: engine.Hashtable{"inner": engine.Hashtable{}}}, engine.ErrInvalidValue, `hashtable key "inner"`},
		{engine.SetRequest{Name: "x", Value: engine.Hashtable{"k": 3.5}}, engine.ErrInvalidValue, `type float64 in hashtable key "k"`},
		{engine.SetRequest{Name: "x", Value: "v", Metadata: engine.Metadata{"when": 1.5}}, engine.ErrInvalidValue, `metadata key "when" has type float64`},
		{engine.SetRequest{Name: "x", Value: "v", Vault: "Local*"}, engine.ErrInvalidName, "wildcards"},
		{engine.SetRequest{Name: "x", Value: "v", Vault: "Nowhere"}, engine.ErrVaultNotFound, `"Nowhere"`},
	}
	for _, c := range cases {
		_, err := e.Set(ctx, c.req)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Set(%q, %T): err = %v, want %v containing %q", c.req.Name, c.req.Value, err, c.is, c.msg)
		}
		var ee *engine.Error
		if !errors.As(err, &ee) || ee.Op != "set" {
			t.Errorf("Set(%q): not an *engine.Error with Op set: %#v", c.req.Name, err)
		}
	}
	if infos, _ := e.Info(ctx, engine.InfoRequest{Pattern: "*"}); len(infos) != 0 {
		t.Errorf("bad input wrote secrets: %+v", infos)
	}
}

func TestNoDefaultVault(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if err := e.SetDefault(ctx, engine.SetDefaultRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Set(ctx, engine.SetRequest{Name: "x", Value: "v"})
	if !errors.Is(err, engine.ErrNoDefaultVault) {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "x"}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("remove without a vault: %v", err)
	}
}

func TestGetSearchOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if _, err := e.Set(ctx, engine.SetRequest{Name: "shared", Value: "from-2", Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "shared"})
	if err != nil || s.Vault != "LocalStore2" {
		t.Fatalf("only in LocalStore2: %+v, %v", s, err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "shared", Value: "from-default"}); err != nil {
		t.Fatal(err)
	}
	s, err = e.Get(ctx, engine.GetRequest{Name: "shared"})
	if err != nil || s.Vault != "LocalStore" || s.Value != "from-default" {
		t.Errorf("in both: %+v, %v; want the default vault's", s, err)
	}
	_, err = e.Get(ctx, engine.GetRequest{Name: "nowhere"})
	if !errors.Is(err, engine.ErrSecretNotFound) || err.Error() != `cannot get secret "nowhere": secret not found` {
		t.Errorf("missing everywhere: %v", err)
	}
}

func TestInfoFiltersAndSorts(t *testing.T) {
	t.Parallel()
	e := newEngineOver(t, "examples/go-vault") // case-insensitive
	for _, n := range []string{"beta", "Alpha", "alpha2", "gamma"} {
		if _, err := e.Set(ctx, engine.SetRequest{Name: n, Value: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	e.Set(ctx, engine.SetRequest{Name: "alpha-mem", Value: "v", Vault: "LocalStore2"})
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "a*"})
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
	if infos, _ := e.Info(ctx, engine.InfoRequest{Pattern: "?eta", Vault: "LocalStore"}); len(infos) != 1 || infos[0].Name != "beta" {
		t.Errorf("info ?eta = %+v", infos)
	}
}

func TestSetInfoAndRemove(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if _, err := e.Set(ctx, engine.SetRequest{Name: "k", Value: "v", Metadata: engine.Metadata{"a": "1", "b": 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: "k", Metadata: engine.Metadata{"c": "3"}}); err != nil {
		t.Fatal(err)
	}
	s, _ := e.Get(ctx, engine.GetRequest{Name: "k"})
	if !reflect.DeepEqual(s.Metadata, engine.Metadata{"c": "3"}) {
		t.Errorf("metadata after set-info = %v; set-info replaces, not merges", s.Metadata)
	}
	// Overwriting without metadata keeps it.
	e.Set(ctx, engine.SetRequest{Name: "k", Value: "v2"})
	if s, _ := e.Get(ctx, engine.GetRequest{Name: "k"}); !reflect.DeepEqual(s.Metadata, engine.Metadata{"c": "3"}) {
		t.Errorf("metadata after an overwrite without metadata = %v", s.Metadata)
	}
	if _, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: "k", Metadata: engine.Metadata{"x": "y"}, Vault: "LocalStore2"}); !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Errorf("set-info on a vault without metadata: %v", err)
	}
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "k", Vault: "localstore"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Remove(ctx, engine.RemoveRequest{Name: "k", Vault: "LocalStore"})
	if !errors.Is(err, engine.ErrSecretNotFound) || !strings.Contains(err.Error(), `cannot remove secret "k" in vault LocalStore`) {
		t.Errorf("second remove: %v", err)
	}
}

func TestCopyBetweenVaults(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	md := engine.Metadata{"owner": "ops"}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "api", Value: engine.Credential{UserName: "bot", Password: "pw"}, Metadata: md}); err != nil {
		t.Fatal(err)
	}
	src, _ := e.Info(ctx, engine.InfoRequest{Pattern: "api", Vault: "LocalStore"})
	// The target has no metadata support: refused, nothing written.
	if _, err := e.Copy(ctx, engine.CopyRequest{From: src[0], Vault: "LocalStore2"}); !errors.Is(err, engine.ErrMetadataUnsupported) {
		t.Fatalf("copy with metadata to LocalStore2: %v", err)
	}
	e.SetInfo(ctx, engine.SetInfoRequest{Name: "api", Metadata: engine.Metadata{}, Vault: "LocalStore"})
	src, _ = e.Info(ctx, engine.InfoRequest{Pattern: "api", Vault: "LocalStore"})
	if _, err := e.Copy(ctx, engine.CopyRequest{From: src[0], Vault: "LocalStore2"}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "api", Vault: "LocalStore2"})
	if err != nil || s.Value != (engine.Credential{UserName: "bot", Password: "pw"}) {
		t.Errorf("copied: %+v, %v", s, err)
	}
	if _, err := e.Copy(ctx, engine.CopyRequest{From: src[0], Vault: "LocalStore2", NoClobber: true}); !errors.Is(err, engine.ErrNoClobber) {
		t.Errorf("copy with NoClobber onto an existing secret: %v", err)
	}
}

func TestErrorsNeverCarryValues(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	const secret = "xyzzy-very-secret-value"
	var errs []error
	_, err := e.Set(ctx, engine.SetRequest{Name: "a*", Value: secret})
	errs = append(errs, err)
	_, err = e.Set(ctx, engine.SetRequest{Name: "k", Value: engine.Hashtable{"x": engine.Hashtable{"y": secret}}})
	errs = append(errs, err)
	_, err = e.Set(ctx, engine.SetRequest{Name: "k", Value: secret, Metadata: engine.Metadata{"m": []string{secret}}})
	errs = append(errs, err)
	e.Set(ctx, engine.SetRequest{Name: "k", Value: secret})
	_, err = e.Set(ctx, engine.SetRequest{Name: "k", Value: secret, NoClobber: true})
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
	e, err := engine.Open(ctx, filepath.Join(t.TempDir(), "vaults.toml"), nil)
	if err == nil {
		e.Close()
		t.Fatal("Open succeeded without a home folder")
	}
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "(set HOME or XDG_DATA_HOME)") {
		t.Errorf("got %v; want ErrUnavailable naming HOME and XDG_DATA_HOME", err)
	}
}
