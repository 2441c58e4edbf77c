//go:build linux || darwin

package sandbox

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckEntrySealFiles: an entry's seal is read without following a
// link or waiting on a FIFO, and whatever stands in its place that is not
// a seal makes the entry one to remove, never one to trust. (The seal is
// read through one descriptor, O_NOFOLLOW and O_NONBLOCK: see readSeal.)
func TestCheckEntrySealFiles(t *testing.T) {
	key := make([]byte, keySize)
	rand.Read(key)
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, seal string) // what stands at the seal's path
		want    string
	}{
		{"sealed", func(*testing.T, string) {}, ""},
		{"missing", func(t *testing.T, seal string) { must(t, os.Remove(seal)) }, "unsealed"},
		{"link to the seal", func(t *testing.T, seal string) {
			must(t, os.Rename(seal, seal+".real"))
			must(t, os.Symlink(filepath.Base(seal)+".real", seal))
		}, "unreadable seal"},
		{"fifo", func(t *testing.T, seal string) {
			must(t, os.Remove(seal))
			must(t, syscall.Mkfifo(seal, 0o600))
		}, "unreadable seal"},
		{"folder", func(t *testing.T, seal string) {
			must(t, os.Remove(seal))
			must(t, os.Mkdir(seal, 0o700))
		}, "unreadable seal"},
		{"too large", func(t *testing.T, seal string) {
			b, err := os.ReadFile(seal)
			must(t, err)
			must(t, os.WriteFile(seal, append(b, bytes.Repeat([]byte(" "), maxSeal)...), 0o600))
		}, "unreadable seal"},
		{"not a seal", func(t *testing.T, seal string) {
			must(t, os.WriteFile(seal, []byte("sesame-seal-v1 nonsense\n"), 0o600))
		}, "unreadable seal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &sealedCache{dir: dir, key: key, logger: slog.New(slog.DiscardHandler), limit: maxEntries}
			name := strings.Repeat("cd", 32)
			must(t, os.WriteFile(filepath.Join(dir, name), []byte("machine code"), 0o600))
			must(t, c.seal())
			tc.replace(t, c.sealPath(name))
			problem, err := c.checkEntry(name)
			if err != nil || problem != tc.want {
				t.Fatalf("checkEntry: %q, %v; want %q", problem, err, tc.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
