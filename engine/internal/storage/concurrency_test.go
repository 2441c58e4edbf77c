package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// uniform reports whether v is n copies of one byte: the values written
// to a shared key are, so that a torn read shows.
func uniform(v []byte, n int) bool {
	return len(v) == n && bytes.Count(v, v[:1]) == n
}

// TestConcurrentStores runs writers and readers on three Stores of one
// file: two opened on the same path, which share the process-level lock
// and read handle, and one through a hard link, which shares nothing but
// the file and its flock. No operation may fail, deadlock or be lost, and
// no read may see a torn value.
func TestConcurrentStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "v.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	link := filepath.Join(dir, "link.db")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	c, err := Open(link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a.lock != b.lock || a.lock == c.lock {
		t.Fatal("Stores on one path must share the process-level lock; a hard link gets its own")
	}

	const (
		writers = 4 // per Store
		writes  = 4 // per writer
		readers = 2 // per Store
		reads   = 100
	)
	stores := []*Store{a, b, c}
	errc := make(chan error, len(stores)*(writers+readers))
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				id := byte(si*writers + w)
				for i := range writes {
					key := fmt.Appendf(nil, "w%02d/%03d", id, i)
					if err := s.Set(ctx, key, key); err != nil {
						errc <- err
						return
					}
					if err := s.Set(ctx, []byte("shared"), bytes.Repeat([]byte{'A' + id}, 64)); err != nil {
						errc <- err
						return
					}
				}
			})
		}
		for range readers {
			wg.Go(func() {
				for range reads {
					v, err := s.Get(ctx, []byte("shared"))
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					if !uniform(v, 64) {
						errc <- fmt.Errorf("torn read of the shared key: %q", v)
						return
					}
					if _, err := s.List(ctx, []byte("w"), nil, 10); err != nil {
						errc <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	// Every write is there, seen from each Store and from a new one.
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, s := range append(stores, d) {
		keys, err := s.List(ctx, []byte("w"), nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(stores) * writers * writes; len(keys) != want {
			t.Fatalf("%d keys, want %d", len(keys), want)
		}
		for _, k := range keys {
			if v, err := s.Get(ctx, k); err != nil || !bytes.Equal(v, k) {
				t.Fatalf("Get(%q) = %q, %v", k, v, err)
			}
		}
	}
	if u := usageOf(t, path); u.keys != int64(len(stores)*writers*writes+1) {
		t.Fatalf("usage %+v", u)
	}
}

// TestLockedByAnotherHandle shows that a second bbolt handle in this very
// process conflicts with the Store like another process would (flock locks
// belong to open files, not to processes), and that the Store then waits
// no longer than its deadline, failing with ErrUnavailable.
func TestLockedByAnotherHandle(t *testing.T) {
	s := openTest(t, Options{})
	mustSet(t, s, "k", "v")
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 150*time.Millisecond)
	}

	// A writer's exclusive lock keeps out readers and writers.
	db, err := bolt.Open(s.Path(), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := short()
	start := time.Now()
	_, err = s.Get(ctx, []byte("k"))
	cancel()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get under a foreign write lock: err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Get waited %v past a 150ms deadline", d)
	}
	ctx, cancel = short()
	err = s.Set(ctx, []byte("k"), []byte("w"))
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set under a foreign write lock: err = %v, want ErrUnavailable", err)
	}
	// Cancellation ends the wait too.
	ctx, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	start = time.Now()
	err = s.Set(ctx, []byte("k"), []byte("w"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Set cancelled while waiting: err = %v, want ErrUnavailable and Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a cancelled Set waited %v", d)
	}
	db.Close()

	// A reader's shared lock lets readers in and keeps writers out.
	db, err = bolt.Open(s.Path(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = short()
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get beside a foreign read lock = %q, %v", v, err)
	}
	err = s.Set(ctx, []byte("k"), []byte("w"))
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set under a foreign read lock: err = %v, want ErrUnavailable", err)
	}
	db.Close()

	// Released, everything works, and nothing was written meanwhile.
	if v, err := s.Get(context.Background(), []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get after release = %q, %v", v, err)
	}
	mustSet(t, s, "k", "w")
}

// TestReaderSeesOutsideChanges checks the kept read handle against every
// way the file can change behind it: a commit by another handle, a commit
// that grows the file past the map, the file replaced, the file removed.
func TestReaderSeesOutsideChanges(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	get := func(want string) {
		t.Helper()
		v, err := s.Get(ctx, []byte("k"))
		if want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get = %q, %v; want ErrNotFound", v, err)
			}
			return
		}
		if err != nil || string(v) != want {
			t.Fatalf("Get = %q, %v; want %q", v, err, want)
		}
	}
	get("1")

	// Another handle commits.
	fillStore(t, s.Path(), func(put func(k, v string)) { put("k", "2") })
	get("2")

	// Another handle grows the file far past the map.
	before, _ := os.Stat(s.Path())
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range 2000 {
			put(fmt.Sprintf("grow/%05d", i), strings.Repeat(benchValue, 16))
		}
		put("k", "3")
	})
	after, _ := os.Stat(s.Path())
	if after.Size() <= 2*before.Size() {
		t.Fatalf("file grew from %d to %d bytes only", before.Size(), after.Size())
	}
	get("3")
	if keys, err := s.List(ctx, []byte("grow/"), []byte("grow/01990"), 100); err != nil || len(keys) != 9 {
		t.Fatalf("List after growth = %d keys, %v", len(keys), err)
	}

	// The file is replaced by another database.
	repl := s.Path() + ".new"
	fillStore(t, repl, func(put func(k, v string)) { put("k", "4") })
	if err := os.Rename(repl, s.Path()); err != nil {
		t.Fatal(err)
	}
	get("4")

	// The file is removed.
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	get("")
	mustSet(t, s, "k", "5")
	get("5")
}

// TestCallHoldsLock checks the reads of a WithCall call: the first takes
// the lock and checks the file, and the call keeps both until it ends or
// writes. Writers of other handles wait meanwhile; the call's own write
// does not wait for itself and is read back; a replacement or removal
// during the call is seen once it ends (a read overlapping it shares its
// lock, as overlapping reads do); the done function lets the writers in,
// and a read after it holds nothing.
func TestCallHoldsLock(t *testing.T) {
	s := openTest(t, Options{})
	other, err := Open(s.Path(), Options{}) // another Store of the file
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mustSet(t, s, "k", "1")
	get := func(ctx context.Context, want string) {
		t.Helper()
		v, err := s.Get(ctx, []byte("k"))
		if want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get = %q, %v; want ErrNotFound", v, err)
			}
			return
		}
		if err != nil || string(v) != want {
			t.Fatalf("Get = %q, %v; want %q", v, err, want)
		}
	}
	// blocked checks that a write by the other handle waits for the lock.
	blocked := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := other.Set(ctx, []byte("other"), []byte("x")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("a write during the call: %v; want ErrUnavailable", err)
		}
	}
	replace := func(value string) {
		t.Helper()
		repl := s.Path() + ".new"
		fillStore(t, repl, func(put func(k, v string)) { put("k", value) })
		if err := os.Rename(repl, s.Path()); err != nil {
			t.Fatal(err)
		}
	}

	call, done := WithCall(context.Background())
	get(call, "1")
	blocked()
	get(call, "1")
	done()
	mustSet(t, other, "k", "2")
	get(call, "2") // after done: a plain read, which holds nothing
	mustSet(t, other, "k", "3")

	call, done = WithCall(context.Background())
	get(call, "3")
	replace("4")
	get(call, "3")                 // the call's file
	get(context.Background(), "3") // a read during the call shares its lock and file
	done()
	get(context.Background(), "4")
	call, done = WithCall(context.Background())
	get(call, "4") // the next call
	if err := s.Set(call, []byte("k"), []byte("5")); err != nil {
		t.Fatal(err)
	}
	get(call, "5") // the call's own write, read back
	blocked()      // and held again
	done()

	// A writer of this process waits for the call with the process lock
	// taken; the call's reads go on without it, so neither waits for the
	// other until the writer's deadline.
	call, done = WithCall(context.Background())
	get(call, "5")
	wrote := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		wrote <- other.Set(ctx, []byte("k"), []byte("6"))
	}()
	for !writerIn(s) {
		runtime.Gosched()
	}
	get(call, "5")
	done()
	if err := <-wrote; err != nil {
		t.Fatalf("a write waiting for a call: %v", err)
	}

	call, done = WithCall(context.Background())
	get(call, "6")
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	get(call, "6")
	done()
	call, done = WithCall(context.Background())
	get(call, "")
	mustSet(t, other, "k", "7")
	get(call, "7")
	done()
	mustSet(t, other, "k", "8")
}

// writerIn reports whether a writer holds the process lock of s's file.
func writerIn(s *Store) bool {
	s.lock.mu.Lock()
	defer s.lock.mu.Unlock()
	return s.lock.writer
}

// TestCallReleasedWhileStoreCloses: a call may release its hold while the
// last Store of the file closes (an engine closing under a request, as the
// agent does when it stops): the two meet at the reader's gate. Under the
// race detector, closing the handle without the gate is reported here.
func TestCallReleasedWhileStoreCloses(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "k", "1")
	ctx, done := WithCall(context.Background())
	if _, err := s.Get(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		done()
	}()
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	<-released
}
