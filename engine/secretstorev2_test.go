package engine_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/secretstore/format"
	"github.com/sesamehq/sesame/internal/testonly"
)

// ssCrowd returns n names whose records fall in the bucket of the secret
// of that name in the store at path (its master key opened with password,
// nil without): the first n of NAME-crowd-0000, NAME-crowd-0001, … whose
// name hash starts with the byte that of name does.
func ssCrowd(t testing.TB, path string, password []byte, of string, n int) []string {
	t.Helper()
	k := ssMaster(t, path, password).Keys()
	want := string(k.RecordKey(of)[:4])
	var names []string
	for i := 0; len(names) < n; i++ {
		name := fmt.Sprintf("%s-crowd-%04d", of, i)
		if string(k.RecordKey(name)[:4]) == want {
			names = append(names, name)
		}
	}
	return names
}

// testdata/secretstore-v2-256 holds two stores of format v2 as sesame 0.5
// first wrote it (256 buckets of one leaf each, never split), made by the
// builtin secretstore of commit 9c1e300 through the engine: password.db
// under "fixture password" (the real Argon2id), none.db with
// authentication = none, each with ssV1Secrets (Token with ssV1Metadata)
// and ssCrowd(…, "Token", 40), imported, each with the value "crowd NAME":
// Token's bucket holds 41 entries, more than a leaf holds today.

// TestSecretStoreOpensV2Stores: the builtin opens the stores of format v2
// that sesame 0.5 wrote, unchanged: every secret reads back, a listing
// names them all; a write into the crowded bucket splits it in leaves
// below a directory, and every secret still reads; restoring the bucket's
// old leaf over the directory is found as tampering.
func TestSecretStoreOpensV2Stores(t *testing.T) {
	testonly.UseRealKDF(t)
	for _, c := range []struct{ file, auth string }{{"password.db", "password"}, {"none.db", "none"}} {
		t.Run(c.auth, func(t *testing.T) {
			reg, data, path := ssFixtureEnv(t, "secretstore-v2-256", c.file, c.auth)
			var pw []byte
			if c.auth == "password" {
				pw = []byte("fixture password")
			}
			crowd := ssCrowd(t, path, pw, "Token", 41)
			before := ssRecords(t, path)
			bucket := "b/" + string(ssMaster(t, path, pw).Keys().RecordKey("Token")[2:4])
			if b := before[bucket]; len(b) == 0 || b[0] != format.StoreVersion || before[bucket+"/i"] == nil {
				t.Fatalf("the fixture's bucket %s is not one leaf", bucket)
			}
			open := func() *engine.Engine {
				e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: testCache})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() })
				if pw != nil {
					ssUnlock(t, e, pw)
				}
				return e
			}
			e := open()
			check := func(n int) {
				t.Helper()
				for name, want := range ssV1Secrets {
					if s := ssGet(t, e, name); s.Name != name || !reflect.DeepEqual(s.Value, want) {
						t.Errorf("%s reads %q = %#v, want %#v", name, s.Name, s.Value, want)
					}
				}
				if s := ssGet(t, e, "token"); s.Name != "Token" || len(s.Metadata) != len(ssV1Metadata) {
					t.Errorf("token reads %q with metadata %v", s.Name, s.Metadata)
				}
				for _, name := range crowd[:n] {
					if s := ssGet(t, e, name); s.Value != "crowd "+name {
						t.Errorf("%s reads %#v", name, s.Value)
					}
				}
				infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
				if err != nil || len(infos) != len(ssV1Secrets)+n {
					t.Errorf("info lists %d secrets (%v), want %d", len(infos), err, len(ssV1Secrets)+n)
				}
			}
			check(40)
			ssSet(t, e, crowd[40], "crowd "+crowd[40], nil)
			check(41)
			e.Close()

			after := ssRecords(t, path)
			if b := after[bucket]; len(b) < 2 || b[0] != format.DirVersion || after[bucket+"/i"] != nil {
				t.Fatalf("bucket %s is not a directory after the write: %.2x…", bucket, b)
			}
			for k, v := range before {
				if strings.HasPrefix(k, format.PrefixSecret) && !bytes.Equal(after[k], v) {
					t.Errorf("record %.10s… changed by the split", k)
				}
			}
			ssUpdate(t, path, func(d *bolt.Bucket) error {
				if err := d.Put([]byte(bucket), before[bucket]); err != nil {
					return err
				}
				return d.Put([]byte(bucket+"/i"), before[bucket+"/i"])
			})
			e = open()
			_, err := e.Get(ctx, engine.GetRequest{Name: "Token", Vault: ssVault})
			if want := "bucket " + bucket + " of its manifest is not the one its root names"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("get of Token with its old leaf over the directory: %v, want %q", err, want)
			}
		})
	}
}

// TestSecretStoreRekeyGrown: a rekey of a store large enough that its
// buckets split (9000 secrets, ~35 a bucket) builds the manifest anew
// under the new keys with directories where a bucket holds more than a
// leaf does, and every secret reads back and lists.
func TestSecretStoreRekeyGrown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	const n = 9000
	for b := range n / 1000 {
		var batch []engine.ImportSecret
		for i := b * 1000; i < (b+1)*1000; i++ {
			batch = append(batch, engine.ImportSecret{Name: fmt.Sprintf("s%05d", i), Value: fmt.Sprint(i)})
		}
		if _, err := e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: batch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Rekey(ctx, engine.RekeyRequest{Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	dirs := 0
	for k, v := range ssRecords(t, env.dbPath()) {
		if strings.HasPrefix(k, format.PrefixBucket) && len(k) == 4 && v[0] == format.DirVersion {
			dirs++
		}
	}
	if dirs == 0 {
		t.Errorf("no bucket is a directory after the rekey of %d secrets", n)
	}
	for _, i := range []int{0, 1234, n - 1} {
		if s := ssGet(t, e, fmt.Sprintf("s%05d", i)); s.Value != fmt.Sprint(i) {
			t.Errorf("s%05d reads %v", i, s.Value)
		}
	}
	if infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault}); err != nil || len(infos) != n {
		t.Errorf("info: %d secrets, %v; want %d", len(infos), err, n)
	}
}
