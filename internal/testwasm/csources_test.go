package testwasm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCSourcesKey: a C guest's key changes with any file it is built from
// (its .c files, a header beside them, one it includes from another folder
// with a relative path, the SDK header in abi/c, which the -I flag finds),
// and not with a file of its folder that it does not include.
func TestCSourcesKey(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"g/vault.c":      "#include \"local.h\"\n#include \"../lib/text.h\"\n#include <stdio.h>\n",
		"g/local.h":      "#include \"sesame.h\"\n",
		"g/unused.h":     "// not included\n",
		"lib/text.h":     "int text;\n",
		"abi/c/sesame.h": "int sesame;\n",
	}
	write := treeWriter(t, root)
	for name, content := range files {
		write(name, content)
	}
	key := func() string {
		t.Helper()
		k, err := cSourcesKey(root, []string{"g/vault.c"})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	write("g/unused.h", "// changed, still not included\n")
	if k := key(); k != base {
		t.Error("a file the guest does not include changed its key")
	}
	for _, name := range []string{"g/vault.c", "g/local.h", "lib/text.h", "abi/c/sesame.h"} {
		write(name, files[name]+"// changed\n")
		if k := key(); k == base {
			t.Errorf("a change of %s left the key as it was", name)
		}
		write(name, files[name])
		if k := key(); k != base {
			t.Errorf("%s as it was gives another key", name)
		}
	}
}

// treeWriter returns a function that writes a file under root, its folders
// made as needed: a test's tree of sources, and its later edits of them.
func treeWriter(t *testing.T, root string) func(name, content string) {
	return func(name, content string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
