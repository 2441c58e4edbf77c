package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoEngine: package api links nothing of the module but package
// abi and the grant grammar, and nothing outside the standard library, so
// that a program of requests alone (the sesame command served by the agent)
// runs none of the engine's package inits: wazero's, bbolt's, toml's, age's.
func TestImportsNoEngine(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/sesamehq/sesame/engine/api":            true,
		"github.com/sesamehq/sesame/abi":                   true,
		"github.com/sesamehq/sesame/engine/internal/grant": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("package api imports %s", p)
		}
	}
}
