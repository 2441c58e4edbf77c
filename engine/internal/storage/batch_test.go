package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestBatch: a batch's reads see its own writes; no one else sees them
// until Commit, which writes them all, with the quota counters right.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	other := openStore(t, s.Path()) // another user of the file
	mustSet(t, s, "kept", "1")
	mustSet(t, s, "replaced", "old")
	mustSet(t, s, "deleted", "x")

	b := s.Batch()
	for _, step := range []error{
		b.Set(ctx, []byte("replaced"), []byte("new")),
		b.Add(ctx, []byte("added"), []byte("a")),
		b.Delete(ctx, []byte("deleted")),
		b.Set(ctx, []byte("empty"), nil),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := b.Add(ctx, []byte("added"), []byte("b")); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a key the batch added: %v, want ErrExists", err)
	}
	if err := b.Add(ctx, []byte("kept"), []byte("b")); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a stored key: %v, want ErrExists", err)
	}
	if err := b.Delete(ctx, []byte("deleted")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete of a key the batch deleted: %v, want ErrNotFound", err)
	}
	batchView := map[string]string{"kept": `"1"`, "replaced": `"new"`, "added": `"a"`, "deleted": "absent", "empty": `""`}
	for k, want := range batchView {
		v, err := b.Get(ctx, []byte(k))
		got := fmt.Sprintf("%q", v)
		if errors.Is(err, ErrNotFound) {
			got = "absent"
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("batch Get %s = %s, want %s", k, got, want)
		}
	}
	before := map[string]string{"kept": `"1"`, "replaced": `"old"`, "added": "absent", "deleted": `"x"`, "empty": "absent"}
	for k, want := range before {
		if got := state(t, other, k); got != want {
			t.Errorf("before Commit, %s = %s to another Store, want %s", k, got, want)
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for k, want := range batchView {
		if got := state(t, other, k); got != want {
			t.Errorf("after Commit, %s = %s, want %s", k, got, want)
		}
	}
	if u := usageOf(t, s.Path()); u.keys != 4 {
		t.Errorf("after Commit the store holds %d keys, want 4", u.keys)
	}
}

// TestBatchDiscarded: a batch never committed writes nothing.
func TestBatchDiscarded(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "kept", "1")
	b := s.Batch()
	if err := b.Set(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, "a") + " " + state(t, s, "kept"); got != `absent "1"` {
		t.Errorf("after a discarded batch: a, kept = %s, want absent \"1\"", got)
	}
}

// TestBatchConflict: a batch commits only if what it read is still there;
// otherwise nothing of it is written, not even keys nobody else touched.
func TestBatchConflict(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		read  func(b *Batch) error // what the batch reads of "k"
		other func(s *Store) error // what another writer then does to "k"
	}{
		{"get, then changed", func(b *Batch) error { _, err := b.Get(ctx, []byte("k")); return err },
			func(s *Store) error { return s.Set(ctx, []byte("k"), []byte("theirs")) }},
		{"get, then deleted", func(b *Batch) error { _, err := b.Get(ctx, []byte("k")); return err },
			func(s *Store) error { return s.Delete(ctx, []byte("k")) }},
		{"add found it absent, then created", func(b *Batch) error { return b.Add(ctx, []byte("new"), []byte("mine")) },
			func(s *Store) error { return s.Set(ctx, []byte("new"), []byte("theirs")) }},
		{"delete, then changed", func(b *Batch) error { return b.Delete(ctx, []byte("k")) },
			func(s *Store) error { return s.Set(ctx, []byte("k"), []byte("theirs")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, Options{})
			mustSet(t, s, "k", "v")
			b := s.Batch()
			if err := tc.read(b); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(ctx, []byte("untouched"), []byte("mine")); err != nil {
				t.Fatal(err)
			}
			if err := tc.other(openStore(t, s.Path())); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(ctx); !errors.Is(err, ErrChanged) {
				t.Fatalf("Commit: %v, want ErrChanged", err)
			}
			if got := state(t, s, "untouched"); got != "absent" {
				t.Errorf("a failed commit wrote untouched = %s", got)
			}
		})
	}
	// A key written without being read is a blind write: another writer's
	// change of it does not fail the commit, which then wins.
	s := openTest(t, Options{})
	b := s.Batch()
	if err := b.Set(ctx, []byte("k"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	mustSet(t, openStore(t, s.Path()), "k", "theirs")
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, "k"); got != `"mine"` {
		t.Errorf("k = %s after a blind write committed, want \"mine\"", got)
	}
}

// TestBatchQuota: the quota is checked over the whole batch at Commit,
// which then writes nothing.
func TestBatchQuota(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxKeys: 3})
	mustSet(t, s, "k0", "v")
	b := s.Batch()
	for i := 1; i <= 3; i++ {
		if err := b.Set(ctx, fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(ctx); !errors.Is(err, ErrQuota) {
		t.Fatalf("Commit of a batch past the quota: %v, want ErrQuota", err)
	}
	if u := usageOf(t, s.Path()); u.keys != 1 {
		t.Errorf("a batch refused for its quota left %d keys, want 1", u.keys)
	}
	// Deleting within the batch makes room: the end state is what counts.
	b = s.Batch()
	for _, err := range []error{
		b.Delete(ctx, []byte("k0")),
		b.Set(ctx, []byte("k1"), []byte("v")),
		b.Set(ctx, []byte("k2"), []byte("v")),
		b.Set(ctx, []byte("k3"), []byte("v")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, s.Path()); u.keys != 3 {
		t.Errorf("the store holds %d keys, want 3", u.keys)
	}
}

// TestBatchLimits: the lengths of keys and values are checked at each
// write, and a batch buffers at most MaxBatchBytes.
func TestBatchLimits(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxValueBytes: 16})
	b := s.Batch()
	if err := b.Set(ctx, []byte("k"), make([]byte, 17)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Set of a value over the limit: %v, want ErrTooLarge", err)
	}
	if err := b.Set(ctx, nil, []byte("v")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set of an empty key: %v, want ErrInvalid", err)
	}
	s = openTest(t, Options{})
	b = s.Batch()
	big := make([]byte, DefaultMaxValueBytes)
	var err error
	for i := 0; err == nil && i <= MaxBatchBytes/len(big); i++ {
		err = b.Set(ctx, fmt.Appendf(nil, "k%d", i), big)
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("filling a batch past MaxBatchBytes: %v, want ErrTooLarge", err)
	}
}

// TestBatchList: a batch lists the keys it added and not those it deleted,
// page by page, and never ends a listing early with an empty page.
func TestBatchList(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range 10 {
			put(fmt.Sprintf("p/%02d", i), "v")
		}
		put("q/0", "v")
	})
	b := s.Batch()
	for i := range 6 { // the first two pages of 3
		if err := b.Delete(ctx, fmt.Appendf(nil, "p/%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"p/07a", "p/99", "q/1"} {
		if err := b.Set(ctx, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var after []byte
	for {
		page, err := b.List(ctx, []byte("p/"), after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d keys, limit 3", len(page))
		}
		for _, k := range page {
			got = append(got, string(k))
		}
		after = page[len(page)-1]
	}
	want := []string{"p/06", "p/07", "p/07a", "p/08", "p/09", "p/99"}
	if !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
}

// TestBatchAddOnce: of many goroutines adding one key to a batch at once,
// exactly one succeeds.
func TestBatchAddOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	for round := range 20 {
		b := s.Batch()
		key := fmt.Appendf(nil, "k%d", round)
		errs := make(chan error, 8)
		for i := range 8 {
			go func() { errs <- b.Add(ctx, key, fmt.Appendf(nil, "%d", i)) }()
		}
		won := 0
		for range 8 {
			switch err := <-errs; {
			case err == nil:
				won++
			case !errors.Is(err, ErrExists):
				t.Fatal(err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d Adds of one key succeeded, want 1", round, won)
		}
	}
}

// TestBatchView: View returns the batch's own value, without a copy once
// the batch holds the key, and the same bytes as Get; Get returns a copy,
// whose change reaches neither the batch nor its commit's condition.
func TestBatchView(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "stored")
	b := s.Batch()
	v, err := b.View(ctx, []byte("k"))
	if err != nil || string(v) != "stored" {
		t.Fatalf("View = %q, %v", v, err)
	}
	if n := testing.AllocsPerRun(20, func() { b.View(ctx, []byte("k")) }); n != 0 {
		t.Errorf("View of a key the batch holds: %v allocations, want 0", n)
	}
	got, err := b.Get(ctx, []byte("k"))
	if err != nil || string(got) != "stored" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	got[0] = 'X'
	if v, _ := b.View(ctx, []byte("k")); string(v) != "stored" {
		t.Errorf("a change to Get's value reached the batch: View = %q", v)
	}
	if _, err := b.View(ctx, []byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("View of a missing key: %v, want ErrNotFound", err)
	}
	if err := b.Set(ctx, []byte("w"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Errorf("Commit after the reads: %v; the condition saw a change", err)
	}
}

// TestBatchReadsOneState: the reads of a batch see one state of the store,
// even when another writer commits between two of them. A write to keys the
// batch never read leaves its reads valid, and its next read sees the new
// state; a write to a key it read makes its next read of any key fail with
// ErrChanged, and Changed say so, instead of returning a new value beside
// the old one it read (before, that read returned the new value: an import
// saw a secretstore bucket's index from before another process's set and
// the bucket's infos from after, and reported tampering).
func TestBatchReadsOneState(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	for _, k := range []string{"a", "b", "c", "d"} {
		mustSet(t, s, k, "1")
	}
	other := openStore(t, s.Path())
	b := s.Batch()
	get := func(key string) (string, error) {
		v, err := b.Get(ctx, []byte(key))
		return string(v), err
	}
	if v, err := get("a"); err != nil || v != "1" {
		t.Fatalf("a = %q, %v", v, err)
	}
	mustSet(t, other, "c", "2") // not read by the batch
	if v, err := get("c"); err != nil || v != "2" {
		t.Fatalf("after another writer changed c, which the batch had not read: c = %q, %v; want the new 2", v, err)
	}
	if b.Changed() {
		t.Error("Changed after a write to keys the batch had not read")
	}
	mustSet(t, other, "a", "2")
	mustSet(t, other, "b", "2")
	if v, err := get("b"); !errors.Is(err, ErrChanged) {
		t.Fatalf("after another writer changed a, which the batch had read: b = %q, %v; want ErrChanged", v, err)
	}
	if !b.Changed() {
		t.Error("Changed is false after a read found a changed key")
	}
	if err := b.Set(ctx, []byte("d"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); !errors.Is(err, ErrChanged) {
		t.Errorf("Commit: %v, want ErrChanged", err)
	}
}

// TestBatchCommitAfterReplacedFile: a commit skips checking again the keys
// its batch read only when the store is in the very state its last read
// saw. A file replaced since (a compaction renames a new file over the
// store) is another state even at the same transaction id, which a new
// file soon reaches: here another copy of the store, at the id of the
// batch's read, with the key it read changed. The commit must fail rather
// than overwrite it.
func TestBatchCommitAfterReplacedFile(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "v0")
	other := filepath.Join(filepath.Dir(s.Path()), "other.db")
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "k", "v1")
	b := s.Batch()
	if v, err := b.Get(ctx, []byte("k")); err != nil || string(v) != "v1" {
		t.Fatalf("k = %q, %v", v, err)
	}
	if err := b.Set(ctx, []byte("untouched"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	fillStore(t, other, func(put func(k, v string)) { put("k", "theirs") })
	if a, c := txOf(t, s.Path()), txOf(t, other); a != c {
		t.Fatalf("the replacement is at transaction %d, the store at %d: the test needs them equal", c, a)
	}
	if err := os.Rename(other, s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); !errors.Is(err, ErrChanged) {
		t.Fatalf("Commit: %v, want ErrChanged", err)
	}
	if got := state(t, s, "untouched"); got != "absent" {
		t.Errorf("a failed commit wrote untouched = %s", got)
	}
	if got := state(t, s, "k"); got != `"theirs"` {
		t.Errorf("k = %s, want \"theirs\"", got)
	}
}

// txOf returns the id of the last transaction committed to the database
// file at path.
func txOf(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return tx.ID()
}

// TestBatchUnchangedCommitsNothing: a batch whose writes leave every key
// as the store holds it (a mark set and deleted again, a value set to what
// it is) commits nothing: no transaction, the file byte for byte as it was
// (a re-import of secrets all stored already). Its condition still holds:
// when a key it read changed meanwhile, the commit fails as ErrChanged. A
// batch with one real change among them commits it, in one transaction.
func TestBatchUnchangedCommitsNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	// marked is a batch that reads "read", sets and deletes a mark, and
	// sets k to v.
	marked := func(k, v string) *Batch {
		t.Helper()
		b := s.Batch()
		if _, err := b.Get(ctx, []byte("read")); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			b.Set(ctx, []byte("mark"), []byte("1")),
			b.Delete(ctx, []byte("mark")),
			b.Set(ctx, []byte(k), []byte(v)),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	mustSet(t, s, "k", "v")
	mustSet(t, s, "read", "r")
	tx := txOf(t, s.Path())
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	b := marked("k", "v")
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if now, err := os.ReadFile(s.Path()); err != nil || !bytes.Equal(now, raw) || txOf(t, s.Path()) != tx || b.Len() != 0 {
		t.Errorf("a batch of nothing new wrote the file: transaction %d → %d, %d keys written (%v)", tx, txOf(t, s.Path()), b.Len(), err)
	}

	b = marked("k", "v")
	mustSet(t, openStore(t, s.Path()), "read", "theirs")
	if err := b.Commit(ctx); !errors.Is(err, ErrChanged) {
		t.Errorf("Commit of nothing new after a key it read changed: %v, want ErrChanged", err)
	}

	tx = txOf(t, s.Path())
	b = marked("k", "w")
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(t, s, "k") + " " + state(t, s, "mark"); got != `"w" absent` || txOf(t, s.Path()) != tx+1 {
		t.Errorf("after a batch of one change: k, mark = %s at transaction %d, want \"w\" absent at %d", got, txOf(t, s.Path()), tx+1)
	}
}
