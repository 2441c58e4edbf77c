//go:build linux

package inotify

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// counter is a Watcher that counts what it is told.
type counter struct {
	n    atomic.Int64
	wake bool
}

func (c *counter) Noted(uint32) bool { c.n.Add(1); return c.wake }
func (c *counter) Wake()             {}

// TestWatchersSeeTheirOwnEvents: two watchers of one folder share the
// kernel's watch (whose mask is then the union of theirs), and each is
// told only of the events of its own mask and name. When each watcher had
// a descriptor of its own this went without saying; shared, a watcher of a
// folder above a store (moved or removed only) would otherwise count every
// file made in it.
func TestWatchersSeeTheirOwnEvents(t *testing.T) {
	dir := t.TempDir()
	above, named := &counter{}, &counter{}
	if !Add(above, dir, unix.IN_MOVE_SELF|unix.IN_DELETE_SELF|unix.IN_ONLYDIR, nil) ||
		!Add(named, dir, unix.IN_CREATE|unix.IN_ONLYDIR, []byte("x")) {
		t.Skip("no inotify watch could be made")
	}
	defer Remove(above)
	defer Remove(named)

	for _, name := range []string{"y", "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	Poll(nil)
	if got := above.n.Load(); got != 0 {
		t.Errorf("the watcher of the folder's moves was told of %d events, want 0", got)
	}
	if got := named.n.Load(); got != 1 {
		t.Errorf("the watcher of x's creation was told of %d events, want 1 (not y's)", got)
	}

	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir + ".moved") })
	Poll(nil)
	if got := above.n.Load(); got != 1 {
		t.Errorf("the watcher of the folder's moves was told of %d events after a move, want 1", got)
	}
	if got := named.n.Load(); got != 1 {
		t.Errorf("the watcher of x's creation was told of %d events after the folder moved, want 1", got)
	}
}

// TestPolled: an operation's context says that a poll has read the queue
// since the operation began only after one did; a context that no
// operation began says it never.
func TestPolled(t *testing.T) {
	w := &counter{}
	if !Add(w, t.TempDir(), unix.IN_CREATE|unix.IN_ONLYDIR, nil) {
		t.Skip("no inotify watch could be made")
	}
	defer Remove(w)
	// With the instance locked, no poll runs (its goroutine's neither).
	begin := func() (context.Context, bool) {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		ctx := Begin(context.Background())
		return ctx, Polled(ctx)
	}
	ctx, polled := begin()
	if polled {
		t.Fatal("Polled before any poll since the operation began")
	}
	Poll(nil)
	if !Polled(ctx) {
		t.Fatal("not Polled after a poll since the operation began")
	}
	if _, polled := begin(); polled {
		t.Fatal("an operation that began after the last poll is Polled")
	}
	if Polled(context.Background()) {
		t.Fatal("a context of no operation is Polled")
	}
	type key struct{}
	if v := Begin(context.WithValue(context.Background(), key{}, "v")).Value(key{}); v != "v" {
		t.Fatalf("Begin's context hides its parent's values: %v", v)
	}
}
