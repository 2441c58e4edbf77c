package testwasm

import (
	"testing"
)

// TestGoSourcesKey: a Go guest's key changes with the Go files of the
// packages of the module it imports, with go.mod, and not with a file that
// is no package's source.
func TestGoSourcesKey(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":      "module example.com/m\n\ngo 1.24\n",
		"g/main.go":   "package main\n\nimport _ \"example.com/m/lib\"\n\nfunc main() {}\n",
		"lib/lib.go":  "package lib\n",
		"lib/note.md": "not a source\n",
		"other/x.go":  "package other\n",
	}
	write := treeWriter(t, root)
	for name, content := range files {
		write(name, content)
	}
	key := func() string {
		t.Helper()
		k, err := goSourcesKey(root, "g")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	for _, name := range []string{"lib/note.md", "other/x.go"} {
		write(name, files[name]+"// changed\n")
		if k := key(); k != base {
			t.Errorf("a change of %s, which the guest does not import, changed its key", name)
		}
	}
	for _, name := range []string{"g/main.go", "lib/lib.go", "go.mod"} {
		write(name, files[name]+"// changed\n")
		if k := key(); k == base {
			t.Errorf("a change of %s left the key as it was", name)
		}
		write(name, files[name])
	}
}
