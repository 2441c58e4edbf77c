//go:build unix && !aix && !solaris

package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Two open file descriptions of one file: the second waits for the first,
// times out at its deadline, stops with its context, and gets the lock
// once the first is closed.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	ctx := context.Background()
	if err := Lock(ctx, a, Exclusive, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := Lock(ctx, b, Shared, time.Now()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("shared behind exclusive, deadline passed: %v, want ErrTimeout", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := Lock(canceled, b, Exclusive, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait: %v, want context.Canceled", err)
	}
	got := make(chan error, 1)
	go func() { got <- Lock(ctx, b, Exclusive, time.Time{}) }()
	a.Close()
	if err := <-got; err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing folder: %v, want ErrNotExist", err)
	}
}
