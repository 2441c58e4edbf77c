package sandbox_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
)

// The directory grant (SPEC.md §5.4), tried by a guest that runs file
// commands on its mount (testdata/mount) over a real folder.

// Refusals as the guest sees them: the text of the WASI errno.
const (
	refused     = "error: Operation not permitted" // EPERM: leads out of the folder
	unsupported = "error: Not supported"           // ENOTSUP: not a regular file or a folder
)

// grantedFolder lays out, in a fresh temporary folder,
//
//	canary.txt         beside the granted folder: must stay as it is
//	granted/inside.txt
//	granted/sub/up  -> ..           the operator's link, inside while it stays in sub
//	granted/abs     -> ROOT         the operator's link, absolute, to the folder beside
//
// (The absolute link leads to a temporary folder rather than to /etc, so
// that a regression writes nothing there.)
// and returns the folder and the granted folder in it.
func grantedFolder(t *testing.T) (root, granted string) {
	t.Helper()
	root = t.TempDir()
	granted = filepath.Join(root, "granted")
	for _, dir := range []string{granted, filepath.Join(granted, "sub")} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"canary.txt": "canary beside the folder", "granted/inside.txt": "inside"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"sub/up": "..", "abs": root} {
		if err := os.Symlink(target, filepath.Join(granted, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, granted
}

// loadMount loads the mount guest over dir. Its deadline is long: a call
// that blocked would time the test out rather than pass.
func loadMount(t *testing.T, dir string, readOnly bool) *sandbox.Module {
	t.Helper()
	h := newHost(t, nil)
	return load(t, h, sandbox.Spec{
		Vault: "Mount", Wasm: wasm(t, "engine/internal/sandbox/testdata/mount"),
		Dir: dir, ReadOnly: readOnly, Timeout: 10 * time.Minute,
	})
}

// command runs one command of the mount guest and returns what it says.
func command(t *testing.T, m *sandbox.Module, cmd string) string {
	t.Helper()
	got, err := getString(t, m, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return got
}

// untouched checks that nothing beside the granted folder was read into
// the answers, changed or created.
func untouched(t *testing.T, root string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(root, "canary.txt")); err != nil || string(b) != "canary beside the folder" {
		t.Errorf("the canary beside the folder: %q, %v", b, err)
	}
	checkOnly(t, root, "canary.txt", "granted")
}

func TestDirectoryLinksLeadingOutAreRefused(t *testing.T) {
	type step struct{ cmd, want string }
	cases := []struct {
		name  string
		steps []step
	}{
		{"the operator's links are followed while they stay inside", []step{
			{"read sub/up/inside.txt", "ok inside"},
			{"ls sub/up/sub", "ok up"},
			{"write sub/up/sub/new.txt", "ok"},
		}},
		{"a link moved up a level", []step{
			{"rename sub/up up", "ok"},
			{"readlink up", "ok .."},
			{"read up/canary.txt", refused},
			{"ls up", refused},
			{"touch up/canary.txt", refused},
			{"link up/canary.txt stolen.txt", refused},
			{"rename up/canary.txt stolen.txt", refused},
			{"read stolen.txt", "error: No such file or directory"},
			{"write up/planted.txt", refused},
			{"mkdir up/planted", refused},
			{"rename inside.txt up/planted.txt", refused},
			{"link inside.txt up/planted.txt", refused},
			{"remove up/canary.txt", refused},
			{"read inside.txt", "ok inside"},
			{"touch inside.txt", "ok"},
		}},
		{"a link moved out through itself", []step{
			{"rename sub/up up", "ok"},
			{"rename up up/up", refused},
			{"read up/up/canary.txt", refused},
			{"read up/granted/inside.txt", refused},
		}},
		{"a link hard-linked up a level", []step{
			{"link sub/up up", "ok"},
			{"read up/canary.txt", refused},
			{"write up/planted.txt", refused},
			{"link up sub/sub/up", "error: No such file or directory"},
			{"mkdir sub/sub", "ok"},
			{"link up sub/sub/up", "ok"},
			{"read sub/sub/up/up/inside.txt", "ok inside"},
		}},
		{"an absolute link", []step{
			{"read abs/canary.txt", refused},
			{"ls abs", refused},
			{"write abs/planted.txt", refused},
			{"rename abs sub/abs", "ok"},
			{"read sub/abs/canary.txt", refused},
			{"link sub/abs abs2", "ok"},
			{"read abs2/canary.txt", refused},
			{"write abs2/planted.txt", refused},
		}},
		{"no symbolic link made by the guest", []step{
			{"symlink /etc mine", refused},
			{"symlink .. mine", refused},
			{"symlink inside.txt mine", refused},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, granted := grantedFolder(t)
			m := loadMount(t, granted, false)
			for _, s := range c.steps {
				if got := command(t, m, s.cmd); got != s.want {
					t.Errorf("%s: %q, want %q", s.cmd, got, s.want)
				}
			}
			untouched(t, root)
		})
	}
}

// Only regular files and folders are served: a FIFO, a socket or a device
// is refused at once instead of blocking the call (a FIFO's open waits for a
// writer) or reaching the device.
func TestDirectorySpecialFilesAreRefused(t *testing.T) {
	root, granted := grantedFolder(t)
	if err := syscall.Mkfifo(filepath.Join(granted, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(granted, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for link, target := range map[string]string{"devnull": "/dev/null", "fifolink": "fifo", "nulllink": "null"} {
		if err := os.Symlink(target, filepath.Join(granted, link)); err != nil {
			t.Fatal(err)
		}
	}
	// A device node in the folder, where this process may make one (root).
	device := syscall.Mknod(filepath.Join(granted, "null"), syscall.S_IFCHR|0o600, 1<<8|3) == nil

	m := loadMount(t, granted, false)
	for cmd, want := range map[string]string{
		"read fifo":       unsupported,
		"write fifo":      unsupported,
		"read fifolink":   unsupported,
		"read sock":       unsupported,
		"write sock":      unsupported,
		"read devnull":    refused,
		"write devnull":   refused,
		"read inside.txt": "ok inside",
	} {
		if got := command(t, m, cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	if device {
		for _, cmd := range []string{"read null", "write null", "read nulllink"} {
			if got := command(t, m, cmd); got != unsupported {
				t.Errorf("%s: %q, want %q", cmd, got, unsupported)
			}
		}
	} else {
		t.Log("no device node: this process may not make one")
	}
	untouched(t, root)
}

// What the guest creates is its own: files 0600, folders 0700, whatever
// mode it asks for.
func TestDirectoryCreatesPrivateFiles(t *testing.T) {
	_, granted := grantedFolder(t)
	m := loadMount(t, granted, false)
	for _, cmd := range []string{"write new.txt", "mkdir new"} {
		if got := command(t, m, cmd); got != "ok" {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	for name, want := range map[string]os.FileMode{"new.txt": 0o600, "new": 0o700 | os.ModeDir} {
		if st, err := os.Stat(filepath.Join(granted, name)); err != nil || st.Mode() != want {
			t.Errorf("%s: %v %v, want %v", name, st.Mode(), err, want)
		}
	}
}

func TestDirectoryReadOnly(t *testing.T) {
	root, granted := grantedFolder(t)
	m := loadMount(t, granted, true)
	for cmd, want := range map[string]string{
		"read inside.txt":          "ok inside",
		"read sub/up/inside.txt":   "ok inside",
		"write inside.txt":         "error: Read-only file system",
		"write new.txt":            "error: Read-only file system",
		"create new.txt":           "error: Read-only file system",
		"create inside.txt":        "error: Read-only file system",
		"mkdir new":                "error: Read-only file system",
		"rename inside.txt in.txt": "error: Read-only file system",
		"remove inside.txt":        "error: Read-only file system",
	} {
		if got := command(t, m, cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(granted, "inside.txt")); err != nil || string(b) != "inside" {
		t.Errorf("inside.txt: %q, %v", b, err)
	}
	checkOnly(t, granted, "abs", "inside.txt", "sub")
	untouched(t, root)
}

// checkOnly checks that folder dir holds the names given, and no other.
func checkOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// A folder that is gone when the vault loads is reported, naming it.
func TestDirectoryMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, err := newHost(t, nil).Load(context.Background(), sandbox.Spec{
		Vault: "Mount", Wasm: wasm(t, "engine/internal/sandbox/testdata/mount"), Dir: dir,
	})
	se := wantStatus(t, err, abi.Unavailable)
	if !strings.Contains(se.Message, dir) {
		t.Errorf("message %q does not name the folder", se.Message)
	}
}
