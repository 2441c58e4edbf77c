package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestEnvGrantOfUnsetVariables: a vault granted environment variables that
// are not set in the caller's environment is granted env all the same (it
// sees none of them). It used to be refused with "needs grant env".
func TestEnvGrantOfUnsetVariables(t *testing.T) {
	e, dir := emptyEngine(t)
	mod := wat(t, filepath.Dir(dir), "wants-env", watVault(`{"abi":1,"name":"wants-env","version":"1","grants":["env"]}`, "", ""))
	const unset = "SESAME_TEST_NEVER_SET_8d41"
	t.Setenv(unset, "") // restored after the test
	os.Unsetenv(unset)
	reg := engine.Registration{Name: "WantsEnv", Extension: mod, Grants: engine.Grants{Env: []string{unset}}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatalf("register with an env grant of an unset variable: %v", err)
	}
}

// TestGuestCannotClaimMissingGrants: a vault whose own error message says
// it needs a grant does not make MissingGrants name it (the CLI would tell
// the user how to give it); only the host's refusal to load does.
func TestGuestCannotClaimMissingGrants(t *testing.T) {
	t.Parallel()
	e, dir := emptyEngine(t)
	claim := `needs grant "directory", which vaults.toml does not give`
	mod := wat(t, filepath.Dir(dir), "claims", watVault(plainManifest,
		`(import "sesame_v1" "error" (func $error (param i32 i32) (result i32)))`,
		`(data (i32.const 0x9000) "`+watBytes([]byte(claim))+`")
  (func (export "sesame_get") (param i32) (result i32)
    (drop (call $error (i32.const 0x9000) (i32.const `+fmt.Sprint(len(claim))+`)))
    (i32.const 3))`))
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Claims", Extension: mod}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Get(ctx, engine.GetRequest{Name: "x", Vault: "Claims"})
	if err == nil || !strings.Contains(err.Error(), claim) {
		t.Fatalf("get: %v, want the vault's message", err)
	}
	if got := engine.MissingGrants(err); got != nil {
		t.Errorf("MissingGrants of a vault's own message: %q", got)
	}
}

// TestMissingGrantBeforeInit: a vault whose manifest names a grant that its
// registration does not give is refused for that grant, named, even when
// its sesame_init fails without it: the manifest is checked before init
// runs (SPEC.md §3). Init used to run first, and its failure hid the grant.
func TestMissingGrantBeforeInit(t *testing.T) {
	t.Parallel()
	e, dir := emptyEngine(t)
	mod := wat(t, filepath.Dir(dir), "needs-storage", watVault(`{"abi":1,"name":"needs-storage","version":"1","grants":["storage"]}`, "", `
  (func (export "sesame_init") (param i32 i32) (result i32) (i32.const 3))`))
	err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "NeedsStorage", Extension: mod}})
	if got := engine.MissingGrants(err); !slices.Equal(got, []string{"storage"}) {
		t.Fatalf("register without the grant: %v; MissingGrants %q", err, got)
	}
}
