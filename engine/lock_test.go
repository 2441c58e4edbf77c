package engine_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// keepsKeyVault unlocks by keeping a host key (SPEC.md §5.8) and has no
// sesame_lock; its sesame_test fails once the kept key is gone.
var keepsKeyVault = watVault(`{"abi":1,"name":"keeps-key","version":"1"}`, `
  (import "sesame_v1" "key_generate" (func $key_generate (param i32) (result i32)))
  (import "sesame_v1" "key_keep" (func $key_keep (param i32) (result i32)))
  (import "sesame_v1" "key_hmac" (func $key_hmac (param i32 i32 i32 i32) (result i32)))`, `
  (func (export "sesame_unlock") (param i32) (result i32)
    (i32.store (i32.const 0x100) (call $key_generate (i32.const 32)))
    (call $key_keep (i32.load (i32.const 0x100))))
  (func (export "sesame_test") (result i32)
    (call $key_hmac (i32.load (i32.const 0x100)) (i32.const 0x200) (i32.const 1) (i32.const 0x300)))`)

// TestLockWipesKeysOfVaultWithoutLockExport: `vault lock` on a vault that
// keeps keys behind handles but exports no sesame_lock wipes those keys. It
// used to refuse ("has no password to lock") and leave them in memory until
// the vault closed. A vault that holds nothing is still refused.
func TestLockWipesKeysOfVaultWithoutLockExport(t *testing.T) {
	t.Parallel()
	e, dir := emptyEngine(t)
	mod := wat(t, filepath.Dir(dir), "keeps-key", keepsKeyVault)
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Keeps", Extension: mod}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Lock(ctx, engine.LockRequest{Vault: "Keeps"}); !errors.Is(err, engine.ErrUnsupported) {
		t.Fatalf("lock before any key is kept: %v, want ErrUnsupported", err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: "Keeps", Password: []byte("pw")}); err != nil {
		t.Fatal(err)
	}
	if err := e.Test(ctx, engine.TestRequest{Vault: "Keeps"}); err != nil {
		t.Fatalf("test with the kept key: %v", err)
	}
	if err := e.Lock(ctx, engine.LockRequest{Vault: "Keeps"}); err != nil {
		t.Fatalf("lock of a vault that keeps a key: %v", err)
	}
	if err := e.Test(ctx, engine.TestRequest{Vault: "Keeps"}); err == nil {
		t.Fatal("the kept key still works after the lock")
	}
}
