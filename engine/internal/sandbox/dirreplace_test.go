//go:build linux

package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestDirReplace: dir_replace (SPEC.md §5.4), called from C through
// sesame.h, puts a file in the place of another only while that one holds
// the bytes the guest names; another program's save at the very instant
// before the swap survives it (the test's rename hook makes that save);
// names are held to the folder and to regular files.
func TestDirReplace(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := buildC(t, "engine/internal/sandbox/testdata/dirreplace.c")
	digest := func(s string) string { d := sha256.Sum256([]byte(s)); return hex.EncodeToString(d[:]) }
	outside := t.TempDir()
	write := func(t *testing.T, path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name     string
		readOnly bool
		args     string // DIGEST FROM TO, from the digest's text
		read     string // the content whose digest is sent
		setup    func(t *testing.T, dir string)
		want     abi.Status
		files    map[string]string // the folder's files afterwards, "" for a link
	}{
		{name: "unchanged", read: "old", args: ".new db", want: abi.OK,
			files: map[string]string{"db": "new"}},
		{name: "changed before", read: "older", args: ".new db", want: abi.Conflict,
			files: map[string]string{"db": "old"}},
		{name: "saved at the instant of the swap", read: "old", args: ".new db", want: abi.Conflict,
			setup: func(t *testing.T, dir string) {
				testonly.OnRename(t, func(d, name string) {
					if d == dir && name == "db" {
						write(t, filepath.Join(dir, ".other"), "other's save")
						if err := os.Rename(filepath.Join(dir, ".other"), filepath.Join(dir, "db")); err != nil {
							t.Error(err)
						}
					}
				})
			},
			files: map[string]string{"db": "other's save"}},
		{name: "in a folder", read: "old", args: "sub/.new sub/db", want: abi.OK,
			setup: func(t *testing.T, dir string) {
				os.Mkdir(filepath.Join(dir, "sub"), 0o700)
				os.Rename(filepath.Join(dir, "db"), filepath.Join(dir, "sub/db"))
				os.Rename(filepath.Join(dir, ".new"), filepath.Join(dir, "sub/.new"))
			},
			files: map[string]string{"sub/db": "new"}},
		{name: "absent", read: "old", args: ".none db", want: abi.NotFound,
			files: map[string]string{"db": "old", ".new": "new"}},
		{name: "a link", read: "old", args: ".new link", want: abi.PermissionDenied,
			setup: func(t *testing.T, dir string) { os.Symlink("db", filepath.Join(dir, "link")) },
			files: map[string]string{"db": "old", ".new": "new", "link": ""}},
		{name: "through a link out", read: "old", args: ".new out/db", want: abi.PermissionDenied,
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(outside, "db"), "old")
				os.Symlink(outside, filepath.Join(dir, "out"))
			},
			files: map[string]string{"db": "old", ".new": "new", "out": ""}},
		{name: "dot dot", read: "old", args: ".new ../db", want: abi.InvalidArgument,
			files: map[string]string{"db": "old", ".new": "new"}},
		{name: "absolute", read: "old", args: ".new /data/db", want: abi.InvalidArgument,
			files: map[string]string{"db": "old", ".new": "new"}},
		{name: "the same", read: "old", args: "db db", want: abi.InvalidArgument,
			files: map[string]string{"db": "old", ".new": "new"}},
		{name: "read-only", readOnly: true, read: "old", args: ".new db", want: abi.PermissionDenied,
			files: map[string]string{"db": "old", ".new": "new"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "db"), "old")
			write(t, filepath.Join(dir, ".new"), "new")
			if c.setup != nil {
				c.setup(t, dir)
			}
			m, err := h.Load(ctx, Spec{Vault: "C", Wasm: wasm, Dir: dir, ReadOnly: c.readOnly})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			_, err = m.Call(ctx, abi.OpGet, []byte(digest(c.read)+" "+c.args))
			var se *Error
			if got := abi.OK; err != nil && (!errors.As(err, &se) || se.Status != c.want) || err == nil && c.want != got {
				t.Fatalf("dir_replace %s: %v, want %v", c.args, err, c.want)
			}
			checkFiles(t, dir, c.files)
		})
	}
	m, err := h.Load(ctx, Spec{Vault: "C", Wasm: wasm})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var se *Error
	if _, err := m.Call(ctx, abi.OpGet, []byte(digest("old")+" .new db")); !errors.As(err, &se) || se.Status != abi.PermissionDenied {
		t.Errorf("without the grant: %v, want PERMISSION_DENIED", err)
	}
}

// TestDirReplaceKeepsTheMode: the file that takes the place of another has
// the other's permission bits, as after KeePassXC's own save, rwx only: a
// database the user had made readable by a group was written back 0600.
func TestDirReplaceKeepsTheMode(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := buildC(t, "engine/internal/sandbox/testdata/dirreplace.c")
	d := sha256.Sum256([]byte("old"))
	for _, c := range []struct{ old, want os.FileMode }{
		{0o640, 0o640},
		{0o604, 0o604},
		{0o600, 0o600},
		{0o400, 0o400},
		{0o640 | os.ModeSetgid, 0o640},
	} {
		t.Run(c.old.String(), func(t *testing.T) {
			dir := t.TempDir()
			for name, s := range map[string]string{"db": "old", ".new": "new"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(filepath.Join(dir, "db"), c.old); err != nil {
				t.Fatal(err)
			}
			m, err := h.Load(ctx, Spec{Vault: "C", Wasm: wasm, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			if _, err := m.Call(ctx, abi.OpGet, []byte(hex.EncodeToString(d[:])+" .new db")); err != nil {
				t.Fatal(err)
			}
			checkFiles(t, dir, map[string]string{"db": "new"})
			fi, err := os.Stat(filepath.Join(dir, "db"))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() &^ os.ModeType; got != c.want {
				t.Errorf("the new db has mode %v, want %v", got, c.want)
			}
		})
	}
}

// checkFiles checks that dir holds exactly files (a path to its content,
// "" for a symbolic link), folders aside.
func checkFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		seen[rel] = true
		want, ok := files[rel]
		switch {
		case !ok:
			t.Errorf("%s is left in the folder", rel)
		case d.Type()&os.ModeSymlink != 0:
			if want != "" {
				t.Errorf("%s is a link, want %q", rel, want)
			}
		default:
			if b, err := os.ReadFile(path); err != nil || string(b) != want {
				t.Errorf("%s holds %q (%v), want %q", rel, b, err, want)
			}
		}
		return nil
	})
	for name := range files {
		if !seen[name] {
			t.Errorf("%s is missing", name)
		}
	}
}

// TestDirReplaceHashHonoursDeadline: the hash of what came out of the
// exchange is read under the call's deadline. A guest can make that file as
// large as it likes (a sparse terabyte costs it nothing), and a hash that
// ignored the deadline held the host past it and then replaced the file of
// a call already reported as failed. Here the call is canceled at the
// instant of the exchange: the hash must stop, and the exchange be undone.
func TestDirReplaceHashHonoursDeadline(t *testing.T) {
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	wasm := buildC(t, "engine/internal/sandbox/testdata/dirreplace.c")
	dir := t.TempDir()
	for name, s := range map[string]string{"db": "old", ".new": "new"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := h.Load(context.Background(), Spec{Vault: "C", Wasm: wasm, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testonly.OnRename(t, func(d, name string) {
		if d == dir && name == "db" {
			cancel()
		}
	})
	d := sha256.Sum256([]byte("old"))
	if _, err := m.Call(ctx, abi.OpGet, []byte(hex.EncodeToString(d[:])+" .new db")); err == nil {
		t.Error("a canceled dir_replace succeeded")
	}
	checkFiles(t, dir, map[string]string{"db": "old"})
}
