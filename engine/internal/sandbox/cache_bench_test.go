package sandbox

import (
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCacheCheck measures the check of one sealed entry of 12 MB (the
// size of the builtin secretstore's), the cost each load pays before its
// compile: "stat" when the entry is unchanged since it was sealed (the
// common path), "hash" when its stat changed and its content is hashed.
func BenchmarkCacheCheck(b *testing.B) {
	dir := b.TempDir()
	key := make([]byte, keySize)
	rand.Read(key)
	c := &sealedCache{dir: dir, key: key, logger: slog.New(slog.DiscardHandler)}
	name := strings.Repeat("ab", 32)
	entry := make([]byte, 12<<20)
	rand.Read(entry)
	if err := os.WriteFile(filepath.Join(dir, name), entry, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := c.seal(); err != nil {
		b.Fatal(err)
	}
	b.Run("stat", func(b *testing.B) {
		for b.Loop() {
			if problem, err := c.checkEntry(name); problem != "" || err != nil {
				b.Fatal(problem, err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.SetBytes(int64(len(entry)))
		for b.Loop() {
			if _, _, err := c.hashEntry(name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
