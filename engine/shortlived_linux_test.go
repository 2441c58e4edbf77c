package engine_test

import (
	"os"
	"syscall"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestShortLived: an engine opened with Options.ShortLived watches neither
// its registry nor its vault's storage file: after a get, it has no watch
// of the registry, and the file is not locked (the idle hold that a
// long-lived engine keeps between calls: a new handle gets the file's
// exclusive lock at once).
func TestShortLived(t *testing.T) {
	s := newSSEnv(t, ssNone)
	setter := s.open(t)
	if _, err := setter.Set(ctx, engine.SetRequest{Name: "k", Value: "v", Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	setter.Close() // its writer lets go of the file

	e, err := engine.Open(ctx, s.reg, &engine.Options{DataDir: s.data, CacheDir: testCache, ShortLived: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := ssGet(t, e, "k"); got.Value != "v" {
		t.Fatalf("Get = %q", got.Value)
	}
	if engine.WaitWatch(ctx, e) {
		t.Error("a short-lived engine watches its registry")
	}
	f, err := os.Open(s.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the storage file after a short-lived engine's get: %v; want it unlocked (no idle hold)", err)
	}
}
