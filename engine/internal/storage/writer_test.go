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

// TestWriterKeptForBatch: while a Batch of the path is begun, the end of
// the write handle's linger (what its timer calls) keeps the handle for
// the commit to come, at most batchLingers times in a row; once the batch
// commits or is discarded, the linger's end closes it. An import's batch
// takes longer to prepare than the linger: closed between two commits,
// the handle was mapped anew for each, and the commit faulted in every
// page it wrote.
func TestWriterKeptForBatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "v.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.lock
	mustSet(t, s, "k", "v")
	kept := l.writes.db
	b := s.Batch()
	l.closeWriter()
	if l.writes.db != kept {
		t.Fatal("the linger's end closed the write handle while a batch was begun")
	}
	if err := b.Set(ctx, []byte("k"), []byte("w")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if l.writes.db != kept {
		t.Fatal("the batch's commit opened the file anew")
	}
	l.closeWriter()
	if l.writes.db != nil {
		t.Fatal("the linger's end kept the write handle after the batch committed")
	}

	mustSet(t, s, "k", "v")
	b = s.Batch()
	b.Discard()
	b.Discard() // a deferred Discard after an explicit one does nothing more
	if n := l.batches.Load(); n != 0 {
		t.Fatalf("%d batches counted after the discard, want 0", n)
	}
	l.closeWriter()
	if l.writes.db != nil {
		t.Fatal("the linger's end kept the write handle after the batch was discarded")
	}

	mustSet(t, s, "k", "v")
	b = s.Batch()
	defer b.Discard()
	for range batchLingers {
		l.closeWriter()
	}
	if l.writes.db == nil {
		t.Fatalf("the write handle closed before %d lingers with a batch begun", batchLingers)
	}
	l.closeWriter()
	if l.writes.db != nil {
		t.Fatalf("a batch that never ends kept the write handle past %d lingers", batchLingers)
	}
}
