//go:build unix && !aix && !solaris

package registry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
)

const oneVault = "[vaults.A]\nextension = \"builtin:x\"\n"

// writeRegistry writes a registry of one vault at dir/vaults.toml.
func writeRegistry(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(oneVault), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// untrusted fails the test unless err refuses path with the fix named.
func untrusted(t *testing.T, err error, path, fix string) {
	t.Helper()
	if !errors.Is(err, fileperm.ErrUntrusted) {
		t.Fatalf("got %v, want an error wrapping fileperm.ErrUntrusted", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, path+" ") || !strings.Contains(msg, "(fix: "+fix) {
		t.Errorf("message %q: want it to name %s and the fix %q", msg, path, fix)
	}
}

// A vaults.toml anyone else could write decides what runs with which
// grants: Load and Update refuse it, naming the chmod that fixes it.
func TestLoadRefusesWritableByOthers(t *testing.T) {
	for _, mode := range []fs.FileMode{0o620, 0o602, 0o666} {
		path := writeRegistry(t, t.TempDir())
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		untrusted(t, err, path, "chmod go-w "+path)
		_, err = Update(t.Context(), path, register("B"))
		untrusted(t, err, path, "chmod go-w "+path)
	}
}

// The folder of vaults.toml counts too: whoever can write in it can
// replace the file.
func TestLoadRefusesWritableFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "project")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := writeRegistry(t, dir)
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	untrusted(t, err, dir, "chmod go-w "+dir)
}

// A vaults.toml another user owns is refused even with mode 0600 (tests
// run as root give it to user 65534).
func TestLoadRefusesForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := writeRegistry(t, t.TempDir())
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	untrusted(t, err, path, "chown 0 "+path)
}

// A vaults.toml that is the user's link into a dotfiles folder is read
// and updated in place (the link stays a link); a link to a file others
// can write is refused.
func TestLoadFollowsOwnLink(t *testing.T) {
	dots := t.TempDir()
	real := writeRegistry(t, dots)
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(t.Context(), path, register("B")); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("B"); !ok {
		t.Errorf("the update through the link is missing: %+v", r.Vaults)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}

	if err := os.Chmod(real, 0o660); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	untrusted(t, err, real, "chmod go-w "+real)
}

// A vaults.toml.lock planted as a link is refused, and nothing is created
// where it points.
func TestUpdateRefusesLinkedLock(t *testing.T) {
	dir := t.TempDir()
	path := writeRegistry(t, dir)
	target := filepath.Join(t.TempDir(), "created-by-sesame")
	if err := os.Symlink(target, path+".lock"); err != nil {
		t.Fatal(err)
	}
	_, err := Update(t.Context(), path, register("B"))
	untrusted(t, err, path+".lock", "rm "+path+".lock")
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the lock's link target exists: %v", err)
	}
	if r, err := Load(path); err != nil || len(r.Vaults) != 1 {
		t.Errorf("the registry changed: %v, %v", r, err)
	}
}
