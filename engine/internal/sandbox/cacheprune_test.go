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

	"github.com/sesamehq/sesame/internal/testonly"
)

// TestCachePrunesOldEntries: a cache folder keeps its newest entries, and
// their seals, up to its bound; the older ones go with theirs at the next
// check. wazero never removes an entry, and every compile checks them all:
// the folder grew with every build of every extension. The bound is
// maxEntries, a user's; in this test process, whose TestMain installed
// testonly.ManyCacheEntries, at least testonly.TestCacheEntries, so that
// the folder the tests of several packages share keeps the modules of a
// whole run (70 for the engine's and the sandbox's tests: at 64, a warm
// run compiled about 40 of them again).
func TestCachePrunesOldEntries(t *testing.T) {
	_, c, err := openSealedCache(t.TempDir(), filepath.Join(t.TempDir(), "cache.key"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if c.limit != testonly.CacheEntries(maxEntries) || c.limit < testonly.TestCacheEntries {
		t.Fatalf("a test process's cache folder keeps %d entries, want testonly.CacheEntries(%d) = %d", c.limit, maxEntries, testonly.CacheEntries(maxEntries))
	}
	for _, limit := range []int{maxEntries, c.limit} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			root, key := t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
			_, c, err := openSealedCache(root, key, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			c.limit = limit
			if err := os.MkdirAll(c.dir, 0o700); err != nil {
				t.Fatal(err)
			}
			n := limit + 6
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
				if kept := i >= n-limit; kept != (err == nil) || kept != (serr == nil) {
					t.Errorf("entry %d of %d (oldest first): present %v, its seal %v; want both %v", i, n, err == nil, serr == nil, kept)
				}
			}
		})
	}
}
