package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCachePrunesOldEntries: a cache folder keeps its maxEntries newest
// entries, and their seals; the older ones go with theirs at the next
// check. wazero never removes an entry, and every compile checks them all:
// the folder grew with every build of every extension.
func TestCachePrunesOldEntries(t *testing.T) {
	root, key := t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
	_, c, err := openSealedCache(root, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const n = maxEntries + 6
	names := make([]string, n)
	start := time.Now().Add(-time.Hour)
	for i := range names {
		sum := sha256.Sum256(fmt.Appendf(nil, "entry %d", i))
		names[i] = hex.EncodeToString(sum[:])
		path := filepath.Join(c.dir, names[i])
		if err := os.WriteFile(path, []byte("compiled code"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := start.Add(time.Duration(i) * time.Second) // entry i is the i-th written
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
		if err := c.sealEntry(names[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.check(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		_, err := os.Lstat(filepath.Join(c.dir, name))
		_, serr := os.Lstat(c.sealPath(name))
		if kept := i >= n-maxEntries; kept != (err == nil) || kept != (serr == nil) {
			t.Errorf("entry %d of %d (oldest first): present %v, its seal %v; want both %v", i, n, err == nil, serr == nil, kept)
		}
	}
}
