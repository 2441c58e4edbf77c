package testwasm

import (
	"slices"
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

// TestGoSourcesKeysTogether: guests keyed in one go list (goGuestKey's
// batch) get the keys they get alone, each from its own imports only.
func TestGoSourcesKeysTogether(t *testing.T) {
	root := t.TempDir()
	write := treeWriter(t, root)
	write("go.mod", "module example.com/m\n\ngo 1.24\n")
	write("g/main.go", "package main\n\nimport _ \"example.com/m/lib\"\n\nfunc main() {}\n")
	write("h/main.go", "package main\n\nimport _ \"example.com/m/other\"\n\nfunc main() {}\n")
	write("lib/lib.go", "package lib\n")
	write("other/other.go", "package other\n\nimport _ \"example.com/m/lib\"\n")
	both, err := goSourcesKeys(root, []string{"g", "h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"g", "h"} {
		alone, err := goSourcesKey(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		if both[dir] != alone {
			t.Errorf("%s: key %s with another guest, %s alone", dir, both[dir], alone)
		}
	}
	if both["g"] == both["h"] {
		t.Error("two guests with other imports have one key")
	}
	write("other/other.go", "package other\n\nimport _ \"example.com/m/lib\"\n// changed\n")
	again, err := goSourcesKeys(root, []string{"g", "h"})
	if err != nil {
		t.Fatal(err)
	}
	if again["g"] != both["g"] || again["h"] == both["h"] {
		t.Errorf("a change of a package only h imports: g's key %s -> %s, h's %s -> %s; want only h's changed", both["g"], again["g"], both["h"], again["h"])
	}
}

// TestGoGuestsListTogether: the module's Go guests (goGuests: the
// Makefile's guests) load in one go list, so that goGuestKey's batch does
// not fall back to a go list per guest.
func TestGoGuestsListTogether(t *testing.T) {
	root := ModuleRoot(t)
	guests, err := goGuests(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{goVault, hostile, "engine/internal/sandbox/testdata/keyvault"} {
		if !slices.Contains(guests, want) {
			t.Errorf("goGuests = %q, without %s", guests, want)
		}
	}
	if _, err := goSourcesKeys(root, guests); err != nil {
		t.Fatalf("the guests %q do not list together: %v", guests, err)
	}
}
