package engine_test

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/secretstore/format"
)

// TestSecretStoreRollback: someone who can write the store's file restores
// records, or buckets of the manifest, from an earlier copy of the file,
// deletes a record, or plants one. Each is reported as tampering, naming
// the record where its name is known: get of it fails, and info fails
// (the CLI exits non-zero) naming every one, instead of leaving them out.
// Only a copy of the whole file taken earlier is consistent (no state
// outside the file remembers the epoch), and reads as that earlier store.
func TestSecretStoreRollback(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	for _, n := range []string{"Alpha", "Bravo", "Charlie", "Delta"} {
		ssSet(t, e, n, n+" v1", nil)
	}
	e.Close()
	old, err := os.ReadFile(env.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	oldRecs := ssRecords(t, env.dbPath())
	e = env.open(t)
	for _, n := range []string{"Alpha", "Bravo", "Charlie"} {
		ssSet(t, e, n, n+" v2", nil)
	}
	e.Close()
	k := ssMaster(t, env.dbPath(), nil).Keys()
	key := func(n string) []byte { return k.RecordKey(n) }
	bucketOf := func(n string) []byte {
		idx, err := hex.DecodeString(string(key(n)[2:4]))
		if err != nil {
			t.Fatal(err)
		}
		return format.BucketKey(idx[0])
	}
	current, err := os.ReadFile(env.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	// restore puts the current file back, then tampers with it.
	restore := func(t *testing.T, fn func(data *bolt.Bucket) error) {
		t.Helper()
		if err := os.WriteFile(env.dbPath(), current, 0o600); err != nil {
			t.Fatal(err)
		}
		ssUpdate(t, env.dbPath(), fn)
	}
	cases := []struct {
		name    string
		tamper  func(data *bolt.Bucket) error
		get     string // the name whose get fails
		message string // in the errors of get and info
	}{
		{"record restored", func(data *bolt.Bucket) error {
			return data.Put(key("Alpha"), oldRecs[string(key("Alpha"))])
		}, "Alpha", `record of "Alpha" is not the version the manifest names`},
		{"record and its bucket restored", func(data *bolt.Bucket) error {
			if err := data.Put(key("Bravo"), oldRecs[string(key("Bravo"))]); err != nil {
				return err
			}
			return data.Put(bucketOf("Bravo"), oldRecs[string(bucketOf("Bravo"))])
		}, "Bravo", `bucket ` + string(bucketOf("Bravo")) + ` of its manifest is not the one its root names`},
		{"record deleted", func(data *bolt.Bucket) error {
			return data.Delete(key("Charlie"))
		}, "Charlie", `record of "Charlie" was deleted`},
		{"record planted", func(data *bolt.Bucket) error {
			return data.Put(key("Echo"), oldRecs[string(key("Delta"))])
		}, "Echo", `record of "Echo" is not in the manifest`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			restore(t, c.tamper)
			e := env.open(t)
			_, err := e.Get(ctx, engine.GetRequest{Name: c.get, Vault: ssVault})
			if err == nil || !strings.Contains(err.Error(), "tampered") || !strings.Contains(err.Error(), c.message) {
				t.Errorf("get %s: %v, want an error with %q", c.get, err, c.message)
			}
			_, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
			want := c.message
			if c.name == "record planted" {
				want = "is not in the manifest" // listed by its storage key: its name is unknown
			}
			if err == nil || !strings.Contains(err.Error(), "tampered") || !strings.Contains(err.Error(), want) {
				t.Errorf("info: %v, want an error with %q", err, want)
			}
			e.Close()
		})
	}

	t.Run("whole file", func(t *testing.T) {
		if err := os.WriteFile(env.dbPath(), old, 0o600); err != nil {
			t.Fatal(err)
		}
		e := env.open(t)
		if s := ssGet(t, e, "Alpha"); s.Value != "Alpha v1" {
			t.Errorf("Alpha in the earlier file: %v", s.Value)
		}
		if infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault}); err != nil || len(infos) != 4 {
			t.Errorf("info of the earlier file: %v, %v", infos, err)
		}
	})
}
