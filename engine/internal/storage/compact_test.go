package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCompact: after Compact, the bytes of a deleted value and an
// overwritten one are gone from the file, every key keeps its value, and
// a Store opened before the compaction (another process's, which keeps a
// read handle of the old file) reads and writes the new file. The file
// keeps its mode, and no temporary file is left.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, Options{}) // another handle, as another process has
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gone := bytes.Repeat([]byte("deleted-value-"), 40)
	old := bytes.Repeat([]byte("overwritten-value-"), 40)
	for k, v := range map[string][]byte{"gone": gone, "kept": old} {
		if err := a.Set(ctx, []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Get(ctx, []byte("kept")); err != nil { // b maps the old file
		t.Fatal(err)
	}
	// One transaction: bbolt frees the old pages, and reuses them only
	// in a later one.
	if err := a.update(ctx, "test", func(data, _ *bolt.Bucket) error {
		if err := data.Delete([]byte("gone")); err != nil {
			return err
		}
		return data.Put([]byte("kept"), []byte("new"))
	}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, gone) || !bytes.Contains(raw, old) {
		t.Fatal("bbolt cleared its free pages: the test shows nothing")
	}
	if err := a.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, gone) || bytes.Contains(raw, old) {
		t.Error("a deleted or overwritten value is still in the file's bytes")
	}
	if v, err := b.Get(ctx, []byte("kept")); err != nil || string(v) != "new" {
		t.Errorf("the other handle reads %q, %v", v, err)
	}
	if err := b.Set(ctx, []byte("after"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Get(ctx, []byte("after")); err != nil || string(v) != "x" {
		t.Errorf("a write of the other handle after the compaction: %q, %v", v, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file after the compaction: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(path + compactSuffix); !os.IsNotExist(err) {
		t.Errorf("the compaction's file is left: %v", err)
	}
}
