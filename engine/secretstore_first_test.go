package engine_test

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestSecretStoreFirstUnlockInterleaved: a process's first unlock of a new
// store finds no c/config, and before it looks whether the store holds
// secrets, another process unlocks the store first (creating c/config) and
// sets a secret in it. The first one must then open the other's c/config
// with its password, as when the two add it at once, not call the store
// keyless (tampered with) for holding secrets. The list hook puts the
// other process's turn in that instant, before the first one's listing of
// its records reads anything. (TestSecretStoreConcurrency met it once by
// chance, at a load of 6.) Without a password there is no such instant: a
// first set holds the storage's write lock from its first read.
func TestSecretStoreFirstUnlockInterleaved(t *testing.T) {
	env := newSSEnv(t, ssPassword)
	first, other := env.open(t), env.open(t)
	var fired atomic.Bool
	testonly.OnList(t, func(prefix []byte) {
		if string(prefix) != "s/" || !fired.CompareAndSwap(false, true) {
			return // the other's own listings, and any later one
		}
		ssUnlock(t, other, ssPass)
		ssSet(t, other, "theirs", "set by the other process", nil)
	})
	if err := first.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(ssPass)}); err != nil {
		t.Fatalf("first unlock, the store created by another process meanwhile: %v", err)
	}
	if !fired.Load() {
		t.Fatal("the first unlock never listed the store's records: the hook put nothing between its reads")
	}
	ssSet(t, first, "mine", "set by the first process", nil)
	for _, e := range []*engine.Engine{first, other} {
		for name, want := range map[string]string{"theirs": "set by the other process", "mine": "set by the first process"} {
			if got := ssGet(t, e, name).Value; got != want {
				t.Errorf("%s: got %v, want %q", name, got, want)
			}
		}
	}
}
