package engine_test

import (
	"fmt"
	"strings"
	"testing"

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
