package testwasm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAssemblyScriptKey: the cached module's key changes with each thing
// the module is built from (the file, the SDK beside it, the pinned
// compiler, asc's flags), so that a change is never served a stale build.
func TestAssemblyScriptKey(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"vault/v.ts":                       "export function get(): i32 { return 0 }",
		"vault/helper.ts":                  "export const x = 1",
		asDir + "/assembly/sesame.ts":      "export const OK = 0",
		asDir + "/package-lock.json":       `{"assemblyscript": "0.27.0"}`,
		asDir + "/assembly/unrelated.json": "{}",
	}
	write := func(name, content string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		write(name, content)
	}
	flags := []string{"--runtime", "stub"}
	key := func() string {
		t.Helper()
		k, err := asKey(root, "vault/v.ts", flags)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	seen := map[string]string{key(): "the first build"}
	if k := key(); seen[k] == "" {
		t.Fatalf("the same sources hash to two keys")
	}
	change := func(what string, do func()) {
		do()
		k := key()
		if prev, ok := seen[k]; ok {
			t.Errorf("after %s the key is the one of %s", what, prev)
		}
		seen[k] = what
	}
	change("a change of the file", func() { write("vault/v.ts", "export function get(): i32 { return 1 }") })
	change("a change of a file beside it", func() { write("vault/helper.ts", "export const x = 2") })
	change("a change of the SDK", func() { write(asDir+"/assembly/sesame.ts", "export const OK = 1") })
	change("another compiler", func() { write(asDir+"/package-lock.json", `{"assemblyscript": "0.28.0"}`) })
	change("other flags", func() { flags = []string{"--runtime", "incremental"} })
	write(asDir+"/assembly/unrelated.json", "[]")
	if _, ok := seen[key()]; !ok {
		t.Errorf("a file asc does not read changed the key")
	}
}
