package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/kdbx"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestKeePassSeesChangeBehindStat: the vault keeps the tree it last read
// and, once the file's last change is old enough, trusts the file's stat
// to say that the bytes are the same. Another program that rewrites the
// file in place, to the same size, and sets its mtime back, must still be
// seen: ctime moves, whatever the program does. (The guest's clock is the
// test's fake one, moved past the settling time instead of waited for.)
func TestKeePassSeesChangeBehindStat(t *testing.T) {
	clock := testonly.UseFakeClock(t)
	dir := t.TempDir()
	keepassDB(t, dir, "db.kdbx", "", "db.key")
	path := filepath.Join(dir, "db.kdbx")
	// Without gzip, a password of the same length keeps the file's size.
	rewrite(t, dir, func(db *kdbx.Database) { db.SetCompression(false) })
	e := openKeePass(t, dir, `file = "db.kdbx"`, `keyfile = "db.key"`, `authentication = "none"`)
	password := func() string {
		t.Helper()
		s, err := e.Get(ctx, engine.GetRequest{Name: "Internet/GitHub", Vault: kp})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Value.(engine.Credential).Password)
	}
	if p := password(); p != "s3cret pass" {
		t.Fatalf("before: %q", p)
	}
	clock.Advance(3 * time.Second) // the file's change is now settled
	password()                     // and this read trusts its stat from now on

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, dir, func(db *kdbx.Database) {
		var gh *kdbx.Node
		db.Entries(func(_ []string, _, entry *kdbx.Node) bool {
			if title, _ := kdbx.Field(entry, "Title"); title == "GitHub" {
				gh = entry
			}
			return gh == nil
		})
		kdbx.SetField(gh, "Password", "s3cret PASS", true)
	})
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != before.Size() {
		t.Fatalf("the rewrite changed the size (%d, then %d): the test needs the same", before.Size(), after.Size())
	}
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if p := password(); p != "s3cret PASS" {
		t.Errorf("after another program rewrote the file in place: %q, want %q", p, "s3cret PASS")
	}
}

// rewrite opens dir's db.kdbx with its key file db.key, lets change change
// it, and writes it back in place (the same inode), as a program that does
// not replace files would.
func rewrite(t *testing.T, dir string, change func(db *kdbx.Database)) {
	t.Helper()
	path, out := changedDB(t, dir, change)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// changedDB opens dir's db.kdbx with its key file db.key, lets change
// change it, and returns the file's path and the database encoded again.
func changedDB(t *testing.T, dir string, change func(db *kdbx.Database)) (path string, out []byte) {
	t.Helper()
	path = filepath.Join(dir, "db.kdbx")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := os.ReadFile(filepath.Join(dir, "db.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := kdbx.CompositeKey(kdbx.GoCrypto{}, nil, kf)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kdbx.Decode(data, kdbx.GoCrypto{}, key)
	if err != nil {
		t.Fatal(err)
	}
	change(db)
	if out, err = db.Encode(); err != nil {
		t.Fatal(err)
	}
	return path, out
}
