package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/secretstore/format"
	"github.com/sesamehq/sesame/internal/testonly"
)

// testdata/secretstore-v1 holds two stores that the Go guest, the builtin
// secretstore before the C one, wrote through the engine (storage files
// copied as they were; password.db under "fixture password" with the real
// Argon2id, none.db with authentication = none), each with these secrets.
var ssV1Secrets = map[string]any{
	"Token":       "string value",
	"Blob":        []byte{0, 1, 2, 255},
	"Masked":      engine.SecureString("secure value"),
	"Login":       engine.Credential{UserName: "alice", Password: "hunter2"},
	"Table":       engine.Hashtable{"a": "x", "b": []byte{9}, "c": engine.Credential{UserName: "u", Password: "p"}},
	"Ünïcödé-ΣΑΣ": "unicode",
}

// ssV1Metadata is the metadata of Token.
var ssV1Metadata = engine.Metadata{"who": "ops", "n": int64(7), "when": time.Date(2031, 2, 3, 4, 5, 6, 7, time.FixedZone("", 90*60))}

// TestSecretStoreOpensGoGuestStores: the builtin opens the stores of the Go
// guest unchanged (format v1 byte for byte): every secret reads back with
// its type, name spelling and metadata (the datetime's offset too), names
// in another case find theirs, a listing names them all, and a write
// beside them leaves them readable.
func TestSecretStoreOpensGoGuestStores(t *testing.T) {
	testonly.UseRealKDF(t)
	for _, c := range []struct{ file, auth string }{{"password.db", "password"}, {"none.db", "none"}} {
		t.Run(c.auth, func(t *testing.T) {
			reg, data, path := ssV1Env(t, c.file, c.auth)
			before := ssRecords(t, path)
			e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: testCache})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if c.auth == "password" {
				ssUnlock(t, e, []byte("fixture password"))
			}
			ssSet(t, e, "Added", "by the C guest", nil)
			for name, want := range ssV1Secrets {
				s := ssGet(t, e, name)
				if s.Name != name || !reflect.DeepEqual(s.Value, want) {
					t.Errorf("%s reads %q = %#v, want %#v", name, s.Name, s.Value, want)
				}
			}
			s := ssGet(t, e, "tOKEN")
			if s.Name != "Token" || len(s.Metadata) != len(ssV1Metadata) {
				t.Fatalf("tOKEN reads %q with metadata %v", s.Name, s.Metadata)
			}
			for k, want := range ssV1Metadata {
				got := s.Metadata[k]
				if wt, ok := want.(time.Time); ok {
					gt, ok := got.(time.Time)
					_, wo := wt.Zone()
					if _, goff := gt.Zone(); !ok || !gt.Equal(wt) || goff != wo {
						t.Errorf("metadata %s = %v, want %v", k, got, want)
					}
				} else if !reflect.DeepEqual(got, want) {
					t.Errorf("metadata %s = %#v, want %#v", k, got, want)
				}
			}
			if s := ssGet(t, e, "üNÏCÖDÉ-σας"); s.Name != "Ünïcödé-ΣΑΣ" {
				t.Errorf("the unicode name in another case reads %q", s.Name)
			}
			infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
			if err != nil || len(infos) != len(ssV1Secrets)+1 {
				t.Fatalf("info lists %d secrets (%v), want %d", len(infos), err, len(ssV1Secrets)+1)
			}
			e.Close()
			ssUpgraded(t, path, before)
		})
	}
}

// ssV1Env copies the fixture file, a store of format v1, into a new data
// folder as the storage of vault Store (builtin:secretstore, with
// authentication auth), and returns the registry, the data folder and the
// store's path.
func ssV1Env(t *testing.T, file, auth string) (reg, data, path string) {
	t.Helper()
	return ssFixtureEnv(t, "secretstore-v1", file, auth)
}

// ssFixtureEnv is ssV1Env for the fixture file of testdata/folder.
func ssFixtureEnv(t *testing.T, folder, file, auth string) (reg, data, path string) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	src, err := os.ReadFile(filepath.Join("testdata", folder, file))
	if err != nil {
		t.Fatal(err)
	}
	path = engine.StorageFile(data, ssVault, "builtin:secretstore")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	reg = filepath.Join(dir, "vaults.toml")
	toml := "[vaults." + ssVault + "]\nextension = \"builtin:secretstore\"\n  [vaults." + ssVault + ".grants]\n  storage = true\n" +
		"  [vaults." + ssVault + ".parameters]\n  authentication = \"" + auth + "\"\n"
	if err := os.WriteFile(reg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return reg, data, path
}

// ssUpgraded checks that the closed store at path is of format v2 (its key
// record says so, and it has a manifest's root) and still holds every
// secret record it held as v1 (before), byte for byte: the upgrade lost
// and rewrote none.
func ssUpgraded(t *testing.T, path string, before map[string][]byte) {
	t.Helper()
	after := ssRecords(t, path)
	key := after[format.KeyConfig]
	if key == nil {
		key = after[format.KeyMaster]
	}
	if len(key) == 0 || key[0] != format.StoreVersion || after[format.KeyRoot] == nil {
		t.Fatalf("the store is not of format v2: key record %.1x, root %t", key, after[format.KeyRoot] != nil)
	}
	for k, v := range before {
		if strings.HasPrefix(k, format.PrefixSecret) && !bytes.Equal(after[k], v) {
			t.Errorf("record %.10s… changed or lost by the upgrade", k)
		}
	}
}
