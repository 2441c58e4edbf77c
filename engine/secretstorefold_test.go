package engine_test

import (
	"bytes"
	"testing"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// TestSecretStoreFoldsAsGo: the vault finds a secret under the storage key
// that package format (abi.Fold, the Go guest's) gives its name, whatever
// the case of the name asked for, for every rune that folding changes. The
// store is filled natively, names packed with those runes, and each name is
// asked for in its folded spelling: a rune folded otherwise by the guest
// would hash to another record (not found), and a listing with the folded
// spelling as its pattern would miss the name.
func TestSecretStoreFoldsAsGo(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	ssSet(t, e, "probe", "p", nil)
	e.Close()

	var names []string
	var name []byte
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) || abi.Fold(string(r)) == string(r) {
			continue
		}
		if len(name)+utf8.RuneLen(r) > abi.MaxNameBytes {
			names, name = append(names, string(name)), nil
		}
		name = utf8.AppendRune(name, r)
	}
	names = append(names, string(name))
	if len(names) < 10 {
		t.Fatalf("%d names: the runes that folding changes are missing", len(names))
	}

	k := ssMaster(t, env.dbPath(), nil).Keys()
	ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
		for i, n := range names {
			rec, err := k.Seal(k.RecordKey(n), abi.Info{Name: n, Type: abi.TypeBytes}, abi.Value{Type: abi.TypeBytes, Data: []byte{byte(i)}})
			if err != nil {
				return err
			}
			if err := data.Put(k.RecordKey(n), rec); err != nil {
				return err
			}
		}
		return nil
	})
	ssRemanifest(t, env.dbPath(), nil)

	e = env.open(t)
	for i, n := range names {
		folded := abi.Fold(n)
		if folded == n {
			t.Fatalf("name %d folds to itself", i)
		}
		s := ssGet(t, e, folded)
		if s.Name != n || !bytes.Equal(s.Value.([]byte), []byte{byte(i)}) {
			t.Errorf("get of name %d in its folded spelling: %q = %v, want the stored spelling and %d", i, s.Name, s.Value, i)
		}
		infos, err := e.Info(ctx, engine.InfoRequest{Pattern: folded, Vault: ssVault})
		if err != nil || len(infos) != 1 || infos[0].Name != n {
			t.Errorf("info with name %d folded as the pattern: %v, %v", i, infos, err)
		}
	}
}
