package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoEngine: the package, its client and its server, links nothing
// of the engine but its vocabulary (engine/api): a command that the agent
// serves runs none of the engine's package inits (wazero's, bbolt's,
// toml's, age's). The server's engines come from the program (Engines).
func TestLinksNoEngine(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/sesamehq/sesame/engine" || strings.Contains(p, "/engine/internal/sandbox") || strings.Contains(p, "/engine/internal/storage") ||
			strings.Contains(p, "tetratelabs/wazero") || strings.Contains(p, "go.etcd.io/bbolt") || strings.Contains(p, "BurntSushi/toml") || p == "filippo.io/age" {
			t.Errorf("package agent links %s", p)
		}
	}
}
