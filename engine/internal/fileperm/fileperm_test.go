//go:build unix

package fileperm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckDir(t *testing.T) {
	base := t.TempDir() // under /tmp: root's, sticky, writable by all
	mk := func(name string, mode fs.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := mk("private", 0o700)
	shared := mk("shared", 0o775)
	sticky := mk("sticky", 0o777|fs.ModeSticky)
	link := filepath.Join(base, "link")
	if err := os.Symlink(shared, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want error // nil, ErrUntrusted or fs.ErrNotExist
	}{
		{private, nil},
		{filepath.Join(private, "missing"), fs.ErrNotExist},
		{shared, ErrUntrusted},
		{link, ErrUntrusted}, // the link is mine, its target is not safe
		{filepath.Join(link, "."), ErrUntrusted},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			dir  string
			want error
		}{sticky, nil}) // root's and sticky, like /tmp
	}
	for _, tt := range tests {
		if err := CheckDir(tt.dir); !errors.Is(err, tt.want) && (tt.want != nil || err != nil) {
			t.Errorf("CheckDir(%s) = %v, want %v", tt.dir, err, tt.want)
		}
	}
}

// MkdirAll never creates beneath a folder someone else planted.
func TestMkdirAllRefusesPlantedFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a folder to another user")
	}
	planted := filepath.Join(t.TempDir(), ".sesame")
	if err := os.Mkdir(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := MkdirAll(filepath.Join(planted, "storage"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Path != planted {
		t.Fatalf("got %v, want a refusal of %s", err, planted)
	}
	if _, err := os.Lstat(filepath.Join(planted, "storage")); err == nil {
		t.Errorf("MkdirAll created a folder before checking")
	}
}
