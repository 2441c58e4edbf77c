package engine_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/secretstore/format"
)

// TestSecretStoreImportBatch: an import's sets leave pending entries that
// the batch's end (sesame_batch, SPEC.md §5.3) applies at once: the root's
// epoch rises by one a batch, not one a secret, and neither the pending
// entries nor the batch's mark reach the file; every secret reads back and
// lists, a name given twice its second value. A pending entry planted in
// the file by someone who can write it (without the key) is no excuse for
// a restored record, and fails the next batch at its end, which then
// writes nothing.
func TestSecretStoreImportBatch(t *testing.T) {
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	ssSet(t, e, "First", "v1", nil)
	epoch := func() uint64 {
		t.Helper()
		r, err := ssMaster(t, env.dbPath(), nil).Keys().ParseRoot(ssRecords(t, env.dbPath())[format.KeyRoot])
		if err != nil {
			t.Fatal(err)
		}
		return r.Epoch
	}
	before := epoch()
	var batch []engine.ImportSecret
	for i := range 300 {
		batch = append(batch, engine.ImportSecret{Name: fmt.Sprintf("s%03d", i), Value: fmt.Sprint(i)})
	}
	batch = append(batch, engine.ImportSecret{Name: "First", Value: "v2"}, engine.ImportSecret{Name: "first", Value: "v3"})
	if _, err := e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: batch}); err != nil {
		t.Fatal(err)
	}
	if got := epoch(); got != before+1 {
		t.Errorf("the root's epoch went from %d to %d over one batch, want one more", before, got)
	}
	for k := range ssRecords(t, env.dbPath()) {
		if strings.HasPrefix(k, "p/") || k == "m/batch" {
			t.Errorf("%.12s… of the batch reached the file", k)
		}
	}
	if s := ssGet(t, e, "First"); s.Name != "First" || s.Value != "v3" {
		t.Errorf("First reads %q = %v, want First = v3", s.Name, s.Value)
	}
	if s := ssGet(t, e, "s299"); s.Value != "299" {
		t.Errorf("s299 reads %v", s.Value)
	}
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	if err != nil || len(infos) != 301 {
		t.Fatalf("info: %d secrets, %v; want 301", len(infos), err)
	}

	old := ssRecords(t, env.dbPath())
	ssSet(t, e, "s000", "changed", nil)
	k := ssMaster(t, env.dbPath(), nil).Keys()
	key := k.RecordKey("s000")
	pending := append([]byte("p/"), key[2:]...)
	ssUpdate(t, env.dbPath(), func(d *bolt.Bucket) error {
		if err := d.Put(key, old[string(key)]); err != nil {
			return err
		}
		return d.Put(pending, append([]byte{1}, old[string(key)][len(old[string(key)])-16:]...))
	})
	_, err = e.Get(ctx, engine.GetRequest{Name: "s000", Vault: ssVault})
	if err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Errorf("get of a restored record beside a planted pending entry: %v, want tampering", err)
	}
	_, err = e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: []engine.ImportSecret{{Name: "Late", Value: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "pending entry of a batch is malformed (planted?)") {
		t.Errorf("import beside a planted pending entry: %v", err)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "Late", Vault: ssVault}); err == nil {
		t.Errorf("the failed batch wrote Late")
	}
}

// TestSecretStoreSetUnchanged: the secretstore's set reports what it did
// (SPEC.md §4, set_reports), and a set of what the secret holds already
// (its value; its metadata too, when the set gives some) writes nothing:
// the store's file is byte for byte what it was. Another value or other
// metadata is written. An import of a value equal to a record restored
// from an earlier copy is tampering, not an unchanged secret: the set
// checks the record against the manifest before it compares.
func TestSecretStoreSetUnchanged(t *testing.T) {
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	md := engine.Metadata{"env": "prod"}
	ssSet(t, e, "A", "v1", md)
	before := ssRecords(t, env.dbPath())
	same := func(what string, want bool) {
		t.Helper()
		if got := maps.EqualFunc(before, ssRecords(t, env.dbPath()), bytes.Equal); got != want {
			t.Errorf("%s: the file unchanged %v, want %v", what, got, want)
		}
	}
	ssSet(t, e, "a", "v1", nil)
	same("a set of the same value", true)
	ssSet(t, e, "A", "v1", md)
	same("a set of the same value and metadata", true)
	res, err := e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: []engine.ImportSecret{{Name: "A", Value: "v1"}}, NoClobber: true})
	if err != nil || res.Unchanged != 1 || len(res.Actions) != 0 {
		t.Errorf("import of the same value: %+v, %v; want one unchanged", res, err)
	}
	same("an import of the same value", true)
	ssSet(t, e, "A", "v1", engine.Metadata{"env": "dev"})
	same("a set of other metadata", false)
	ssSet(t, e, "A", "v2", nil)
	same("a set of another value", false)
	if s := ssGet(t, e, "A"); s.Value != "v2" || s.Metadata["env"] != "dev" {
		t.Errorf("A = %v %v, want v2 with env=dev", s.Value, s.Metadata)
	}

	key := string(ssMaster(t, env.dbPath(), nil).Keys().RecordKey("A"))
	ssUpdate(t, env.dbPath(), func(d *bolt.Bucket) error { return d.Put([]byte(key), before[key]) })
	_, err = e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: []engine.ImportSecret{{Name: "A", Value: "v1", Metadata: md}}})
	if err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Errorf("import of the value of a restored record: %v, want tampering", err)
	}
}

// TestSecretStoreReimportWritesNothing: an import whose secrets are all
// stored already, each set reporting its secret unchanged, writes nothing
// to the file: not the batch's mark (written at its begin and deleted at
// its end, within the batch), not an empty transaction. The file's bytes,
// its mtime and bbolt's transaction id stay as they were, so that a CI job
// importing the same file at each run does not rewrite the store (nor a
// backup see a change). A batch with one change among the unchanged
// secrets commits once, and rewrites that secret's record and no other.
func TestSecretStoreReimportWritesNothing(t *testing.T) {
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	secrets := importSecrets("s", 50)
	if _, err := e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	before, records, txid := ssFileState(t, env.dbPath())
	res, err := e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: secrets})
	if err != nil || res.Unchanged != len(secrets) || len(res.Actions) != 0 {
		t.Fatalf("import again: %+v, %v; want %d unchanged", res, err, len(secrets))
	}
	after, _, txidAfter := ssFileState(t, env.dbPath())
	if !bytes.Equal(before.bytes, after.bytes) || !before.mtime.Equal(after.mtime) || txid != txidAfter {
		t.Errorf("an import of nothing new wrote the file: tx %d → %d, mtime %v → %v, bytes equal %v",
			txid, txidAfter, before.mtime, after.mtime, bytes.Equal(before.bytes, after.bytes))
	}

	secrets[7].Value = "changed"
	res, err = e.Import(ctx, engine.ImportRequest{Vault: ssVault, Secrets: secrets})
	if err != nil || res.Unchanged != len(secrets)-1 || len(res.Actions) != 1 || res.Actions[0].Secret != "s-7" {
		t.Fatalf("import of one change: %+v, %v; want s-7 replaced, the rest unchanged", res, err)
	}
	_, changed, txidChanged := ssFileState(t, env.dbPath())
	if txidChanged != txid+1 {
		t.Errorf("an import of one change went from tx %d to %d, want one commit", txid, txidChanged)
	}
	s7 := string(ssMaster(t, env.dbPath(), nil).Keys().RecordKey("s-7"))
	for k, v := range changed {
		if (strings.HasPrefix(k, "s/") && k != s7 && !bytes.Equal(v, records[k])) || strings.HasPrefix(k, "p/") || k == "m/batch" {
			t.Errorf("the import of one change wrote %.12s…", k)
		}
	}
	if bytes.Equal(changed[s7], records[s7]) {
		t.Errorf("the import of one change left its record as it was")
	}
	if s := ssGet(t, e, "s-7"); s.Value != "changed" {
		t.Errorf("s-7 reads %v, want changed", s.Value)
	}
}

// ssFile is what a store's file is on disk.
type ssFile struct {
	bytes []byte
	mtime time.Time
}

// ssFileState returns the store's file at path as it is on disk, its
// records, and the id of its last committed transaction.
func ssFileState(t testing.TB, path string) (f ssFile, records map[string][]byte, txid int) {
	t.Helper()
	records = ssRecords(t, path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		txid = tx.ID()
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.bytes, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	f.mtime = st.ModTime()
	return f, records, txid
}
