//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestWriterKeptAndRenewed: a Store's writes share one read-write handle
// while nothing else writes the file, and open it again once another
// handle (a hard link's Store stands for another process: it shares only
// the file and its flock) has committed. Reusing the kept handle after another commit would hand out pages
// from a stale free list, overwriting the other writer's data:
// bbolt's consistency check and the values read back show it.
func TestWriterKeptAndRenewed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "v.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	link := filepath.Join(dir, "link.db")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	other, err := Open(link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	value := func(who string, i int) []byte { return fmt.Appendf(nil, "%s %d %0500d", who, i, i) }
	mustSet(t, a, "a0", string(value("a", 0)))
	kept := a.lock.writes.db
	mustSet(t, a, "a1", string(value("a", 1)))
	if a.lock.writes.db != kept {
		t.Fatal("a write with no other writer in between opened the file again")
	}
	for round := range 5 {
		// The other writer frees and allocates pages: overwrites, and
		// deletes of its own keys, each commit its own.
		for i := range 20 {
			if err := other.Set(ctx, fmt.Appendf(nil, "o%d", i), value("o", round*100+i)); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				if err := other.Delete(ctx, fmt.Appendf(nil, "o%d", i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range 20 {
			if err := a.Set(ctx, fmt.Appendf(nil, "a%d", i), value("a", round*100+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.Close()
	other.Close()

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		data := tx.Bucket(bucketData)
		for i := range 20 {
			if got, want := data.Get(fmt.Appendf(nil, "a%d", i)), value("a", 400+i); string(got) != string(want) {
				return fmt.Errorf("a%d = %.20q, want %.20q", i, got, want)
			}
			got, want := data.Get(fmt.Appendf(nil, "o%d", i)), value("o", 400+i)
			if i%3 == 0 {
				want = nil
			}
			if string(got) != string(want) {
				return fmt.Errorf("o%d = %.20q, want %.20q", i, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
