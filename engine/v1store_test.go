package engine_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/testonly"
)

// The stores in testdata/stores were written by the secretstore of the
// release that wrote format v1: the Go guest whose module has the SHA-256
// below (commit fee58e1). Whatever builds builtin:secretstore later must
// open them and read back every secret below; -write-v1-stores writes
// them again, and refuses with any other module, so that they stay what
// that release wrote.
var writeV1Stores = flag.Bool("write-v1-stores", false, "write testdata/stores/v1-*.db with the built-in secretstore of format v1")

const (
	v1Module   = "e8332cfa1f6094479368918e77eaa874ee7266a069e39ffe5b98f6436f802e58"
	v1Password = "v1 fixture password"
)

// v1Secrets is what each v1 store holds: every type, and metadata of every
// kind.
func v1Secrets() []engine.SetRequest {
	when := time.Date(2026, 12, 6, 21, 30, 0, 0, time.FixedZone("", 5*3600+30*60))
	return []engine.SetRequest{
		{Name: "text", Value: "plain text value"},
		{Name: "Masked", Value: engine.SecureString("masked value")},
		{Name: "raw bytes", Value: []byte{0, 1, 2, 0xfe, 0xff}},
		{Name: "db/login", Value: engine.Credential{UserName: "admin", Password: "s3cret"}},
		{Name: "table", Value: engine.Hashtable{
			"Host": "db.internal", "Token": engine.SecureString("t0ken"),
			"Blob": []byte("blob"), "Login": engine.Credential{UserName: "u", Password: "p"},
		}},
		{Name: "with metadata", Value: "v", Metadata: engine.Metadata{
			"purpose": "fixture", "count": int64(42), "expires": when,
		}},
		{Name: "empty", Value: ""},
	}
}

// v1Store is one fixture: its file and how its vault is registered.
type v1Store struct {
	file     string
	password bool
}

func (s v1Store) registration() engine.Registration {
	auth := "none"
	if s.password {
		auth = "password"
	}
	return engine.Registration{Name: "Old", Extension: "builtin:secretstore",
		Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": auth}}
}

var v1Stores = []v1Store{{"v1-none.db", false}, {"v1-password.db", true}}

func TestSecretstoreV1Stores(t *testing.T) {
	testonly.UseRealKDF(t) // the stores were written with the real derivation
	if *writeV1Stores {
		writeV1(t)
	}
	for _, s := range v1Stores {
		t.Run(s.file, func(t *testing.T) {
			e, data := engineWithStore(t, s)
			if s.password {
				if _, err := e.Get(ctx, engine.GetRequest{Name: "text", Vault: "Old"}); !errors.Is(err, engine.ErrLocked) {
					t.Fatalf("get before unlock: %v, want ErrLocked", err)
				}
				err := e.Unlock(ctx, engine.UnlockRequest{Vault: "Old", Password: []byte("not it")})
				if !errors.Is(err, engine.ErrLocked) {
					t.Fatalf("unlock with a wrong password: %v, want ErrLocked", err)
				}
				if err := e.Unlock(ctx, engine.UnlockRequest{Vault: "Old", Password: []byte(v1Password)}); err != nil {
					t.Fatal(err)
				}
			}
			wantV1Secrets(t, e)
			// Still readable by the next process, whatever the first one
			// did to the store on opening it.
			e.Close()
			e = reopen(t, e.Path(), data)
			if s.password {
				if err := e.Unlock(ctx, engine.UnlockRequest{Vault: "Old", Password: []byte(v1Password)}); err != nil {
					t.Fatal(err)
				}
			}
			wantV1Secrets(t, e)
		})
	}
}

// engineWithStore returns an engine whose vault Old is the secretstore
// with a copy of s's file as its storage, and the engine's data folder.
func engineWithStore(t *testing.T, s v1Store) (*engine.Engine, string) {
	t.Helper()
	e, path := emptyEngine(t)
	if err := e.Register(ctx, engine.RegisterRequest{Registration: s.registration()}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	data := filepath.Join(filepath.Dir(path), "data")
	b, err := os.ReadFile(filepath.Join("testdata", "stores", s.file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(engine.StorageFile(data, "Old", "builtin:secretstore"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return reopen(t, path, data), data
}

func reopen(t *testing.T, path, data string) *engine.Engine {
	t.Helper()
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: data, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func wantV1Secrets(t *testing.T, e *engine.Engine) {
	t.Helper()
	infos, err := e.Info(ctx, engine.InfoRequest{Vault: "Old"})
	if err != nil {
		t.Fatal(err)
	}
	want := v1Secrets()
	if len(infos) != len(want) {
		t.Errorf("info lists %d secrets, want %d", len(infos), len(want))
	}
	for _, w := range want {
		got, err := e.Get(ctx, engine.GetRequest{Name: w.Name, Vault: "Old"})
		if err != nil {
			t.Errorf("get %q: %v", w.Name, err)
			continue
		}
		if got.Name != w.Name || !reflect.DeepEqual(got.Value, w.Value) {
			t.Errorf("get %q: %q of type %T, want %q of type %T", w.Name, got.Name, got.Value, w.Name, w.Value)
		}
		if !sameMetadata(got.Metadata, w.Metadata) {
			t.Errorf("metadata of %q: %v, want %v", w.Name, got.Metadata, w.Metadata)
		}
	}
}

// sameMetadata compares times as instants with their offsets.
func sameMetadata(got, want engine.Metadata) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if wt, isTime := w.(time.Time); isTime {
			gt, ok := g.(time.Time)
			_, woff := wt.Zone()
			if !ok || !gt.Equal(wt) {
				return false
			}
			if _, goff := gt.Zone(); goff != woff {
				return false
			}
			continue
		}
		if !ok || !reflect.DeepEqual(g, w) {
			return false
		}
	}
	return true
}

// writeV1 writes the stores with the built-in secretstore, which must be
// the module of format v1.
func writeV1(t *testing.T) {
	m, _ := extensions.Lookup("secretstore")
	if sum := sha256.Sum256(m); hex.EncodeToString(sum[:]) != v1Module {
		t.Fatalf("the built-in secretstore is not the module that wrote format v1 (SHA-256 %x): the stores must stay what that release wrote", sum)
	}
	for _, s := range v1Stores {
		e, path := emptyEngine(t)
		if err := e.Register(ctx, engine.RegisterRequest{Registration: s.registration()}); err != nil {
			t.Fatal(err)
		}
		if s.password {
			if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: "Old", New: []byte(v1Password)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range v1Secrets() {
			r.Vault = "Old"
			if _, err := e.Set(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		e.Close()
		data := filepath.Join(filepath.Dir(path), "data")
		b, err := os.ReadFile(engine.StorageFile(data, "Old", "builtin:secretstore"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("plain text value")) {
			t.Fatal("a value is in clear in the store file")
		}
		if err := os.WriteFile(filepath.Join("testdata", "stores", s.file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
