package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/kdbx"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestKeePassSaveAtTheRename: KeePassXC saves the database (its own atomic
// replace) at the very instant the vault puts its change in place, after
// every check the vault can make of the file itself. The save survives,
// and the vault's change is refused with CONFLICT, not written over it;
// nothing is left beside the database; the change made again then keeps
// both. (The test's rename hook makes the save at that instant; before
// the host's dir_replace, the vault's rename overwrote it and reported
// success.)
func TestKeePassSaveAtTheRename(t *testing.T) {
	dir := t.TempDir()
	keepassDB(t, dir, "db.kdbx", "", "db.key")
	e := openKeePass(t, dir, `file = "db.kdbx"`, `keyfile = "db.key"`, `authentication = "none"`)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "Internet/GitHub", Vault: kp}); err != nil {
		t.Fatal(err)
	}
	saved := false
	testonly.OnRename(t, func(d, name string) {
		if d == dir && name == "db.kdbx" && !saved {
			saved = true
			saveAsKeePassXC(t, dir, func(db *kdbx.Database) { kdbx.SetField(githubEntry(db), "Password", "KeePassXC's", true) })
		}
	})
	_, err := e.Set(ctx, engine.SetRequest{Name: "Email", Value: "sesame's", Vault: kp})
	if !saved {
		t.Fatal("the vault renamed nothing over the database")
	}
	if !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "changed by another program (KeePassXC?)") {
		t.Fatalf("a save at the instant of the vault's: %v, want ErrConflict", err)
	}
	checkKeePass(t, e, map[string]string{"Internet/GitHub": "KeePassXC's"})
	if _, err := e.Set(ctx, engine.SetRequest{Name: "Email", Value: "sesame's", Vault: kp}); err != nil {
		t.Fatal(err)
	}
	checkKeePass(t, e, map[string]string{"Internet/GitHub": "KeePassXC's", "Email": "sesame's"})
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		if n := de.Name(); n != "db.kdbx" && n != "db.key" {
			t.Errorf("%s is left beside the database", n)
		}
	}
}

// checkKeePass checks the passwords (or string values) of the secrets.
func checkKeePass(t *testing.T, e *engine.Engine, want map[string]string) {
	t.Helper()
	for name, w := range want {
		s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: kp})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Value.(string)
		if c, ok := s.Value.(engine.Credential); ok {
			got = string(c.Password)
		}
		if got != w {
			t.Errorf("%s is %q, want %q", name, got, w)
		}
	}
}

// githubEntry is the entry Internet/GitHub of keepassDB's database.
func githubEntry(db *kdbx.Database) *kdbx.Node {
	var gh *kdbx.Node
	db.Entries(func(_ []string, _, entry *kdbx.Node) bool {
		if title, _ := kdbx.Field(entry, "Title"); title == "GitHub" {
			gh = entry
		}
		return gh == nil
	})
	return gh
}

// saveAsKeePassXC changes dir's db.kdbx (opened with db.key) and saves it
// as KeePassXC does: a new file beside it, renamed over it.
func saveAsKeePassXC(t *testing.T, dir string, change func(db *kdbx.Database)) {
	t.Helper()
	path, out := changedDB(t, dir, change)
	tmp := filepath.Join(t.TempDir(), "db.kdbx")
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
