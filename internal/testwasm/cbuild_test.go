package testwasm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCKeyFollowsIncludes: the key of a C build changes with the source and
// with every header it reaches through quoted includes (beside the
// including file, then in abi/c, and from there on), and not with a file
// it does not include; an include it cannot resolve gives no key, so that
// the guest is built every time rather than taken stale from the cache.
func TestCKeyFollowsIncludes(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("g/a.c", "#include <stdint.h>\n#include \"sesame.h\"\n  #  include \"../lib/x.h\"\n")
	write("abi/c/sesame.h", "int s;\n")
	write("lib/x.h", "#include \"y.h\"\n")
	write("lib/y.h", "int y;\n")
	write("lib/unrelated.h", "int u;\n")
	key := func() string {
		t.Helper()
		k, err := cKey(root, []string{"g/a.c"})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	seen := map[string]string{"first": key()}
	for _, change := range [][2]string{
		{"g/a.c", "#include \"sesame.h\"\n#include \"../lib/x.h\"\nint a;\n"},
		{"abi/c/sesame.h", "int s2;\n"},
		{"lib/x.h", "#include \"y.h\"\nint x;\n"},
		{"lib/y.h", "int y2;\n"},
	} {
		write(change[0], change[1])
		k := key()
		for what, old := range seen {
			if k == old {
				t.Errorf("after a change to %s the key is the one of %s", change[0], what)
			}
		}
		seen[change[0]] = k
	}
	before := key()
	write("lib/unrelated.h", "int u2;\n")
	if key() != before {
		t.Error("a header that nothing includes changed the key")
	}
	write("lib/y.h", "#include \"missing.h\"\n")
	if k, err := cKey(root, []string{"g/a.c"}); err == nil {
		t.Errorf("an include of a missing file gave the key %s, want an error", k)
	}
}
