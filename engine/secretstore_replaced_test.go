package engine_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestSecretStoreReplacedSinceUnlock replaces the store file of an
// unlocked secretstore vault, from another process's engine, by another
// password store: the unlocked vault refuses it as locked (its keyring is
// of another store id, which it checks against c/config at each call)
// rather than reading the new file's records, and stays locked when its
// own store is put back, until it is unlocked again. The engine's reads of one call check the file
// at the path once (storage.WithCall); this pins that each call does.
func TestSecretStoreReplacedSinceUnlock(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssPassword)
	e := env.open(t)
	ssUnlock(t, e, ssPass)
	ssSet(t, e, "a", "first store", nil)
	ssGet(t, e, "a")

	path := env.dbPath()
	if err := os.Rename(path, path+".first"); err != nil {
		t.Fatal(err)
	}
	other := env.open(t)
	ssUnlock(t, other, ssPass)
	ssSet(t, other, "a", "second store", nil)
	other.Close()

	_, err := e.Get(ctx, engine.GetRequest{Name: "a", Vault: ssVault})
	if !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), "replaced since the unlock") {
		t.Fatalf("get from a replaced store: %v; want ErrLocked, replaced since the unlock", err)
	}

	if err := os.Rename(path+".first", path); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "a", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("get after the store is back: %v; want ErrLocked", err)
	}
	ssUnlock(t, e, ssPass)
	if s := ssGet(t, e, "a"); s.Value != "first store" {
		t.Fatalf("get after the store is back = %v", s.Value)
	}
}
