package engine_test

import (
	"os"
	"path/filepath"
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
