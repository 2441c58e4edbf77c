//go:build unix && !solaris && !aix && !android

package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
)

// refused fails the test unless err is Open's refusal of path, naming fix.
func refused(t *testing.T, err error, path, fix string) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, fileperm.ErrUntrusted) {
		t.Fatalf("got %v, want an error wrapping ErrUnavailable and fileperm.ErrUntrusted", err)
	}
	if msg := err.Error(); !strings.Contains(msg, path+" ") || !strings.Contains(msg, "(fix: "+fix) {
		t.Errorf("message %q: want it to name %s and the fix %q", msg, path, fix)
	}
}

// A storage file planted as a link in a shared project folder must not
// capture the new vault's store: Open refuses it, and whatever it points
// to, existing or not, is left untouched.
func TestOpenRefusesLinkedFile(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "bashrc")
	if err := os.WriteFile(victim, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victim, filepath.Join(t.TempDir(), "missing")} {
		path := filepath.Join(t.TempDir(), ".sesame", "storage", "local.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{})
		refused(t, err, path, "rm "+path)
		if got, _ := os.ReadFile(victim); !bytes.Equal(got, []byte("# mine\n")) {
			t.Errorf("the link's target %s was changed: %q", victim, got)
		}
		if _, err := os.Lstat(filepath.Join(filepath.Dir(target), "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a file was created at the link's target: %v", err)
		}
	}
}

// A link planted after Open, between two operations, is refused by the
// operation too (each one opens the file with O_NOFOLLOW).
func TestOperationRefusesLinkedFile(t *testing.T) {
	s := openTest(t, Options{})
	path := s.Path()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	err := s.Set(t.Context(), []byte("k"), []byte("v"))
	refused(t, err, path, "rm "+path)
	if fi, _ := os.Stat(victim); fi.Size() != 0 {
		t.Errorf("the link's target was written: %d bytes", fi.Size())
	}
}

// A storage folder (or one above it) its group can write is refused: a
// member could replace the file.
func TestOpenRefusesWritableFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "storage")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "local.db")
	_, err := Open(path, Options{})
	refused(t, err, dir, "chmod go-w "+dir)
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the store was created in the refused folder: %v", err)
	}
}

// A storage file another user owns, or may write, is refused.
func TestOpenRefusesForeignFile(t *testing.T) {
	path := openTest(t, Options{}).Path()
	if err := os.Chmod(path, 0o606); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	refused(t, err, path, "chmod go-w "+path)

	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	refused(t, err, path, "chown 0 "+path)
}
