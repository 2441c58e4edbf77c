package storage

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

func newRWLock() *rwLock { return &rwLock{changed: make(chan struct{})} }

// waitFor spins until cond holds under l.mu: a way to know that a
// goroutine is parked in lock without sleeping and hoping.
func waitFor(t *testing.T, l *rwLock, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

func TestRWLock(t *testing.T) {
	ctx := context.Background()
	far := time.Now().Add(time.Minute)
	soon := func() time.Time { return time.Now().Add(30 * time.Millisecond) }
	l := newRWLock()

	// Readers share.
	if err := l.lock(ctx, false, far); err != nil {
		t.Fatal(err)
	}
	if err := l.lock(ctx, false, far); err != nil {
		t.Fatal(err)
	}
	// A writer waits for them, and holds back new readers meanwhile.
	got := make(chan error, 1)
	go func() { got <- l.lock(ctx, true, far) }()
	waitFor(t, l, func() bool { return l.waitingWriters == 1 })
	if err := l.lock(ctx, false, soon()); !errors.Is(err, errWaitTimeout) {
		t.Fatalf("reader behind a waiting writer: err = %v, want errWaitTimeout", err)
	}
	l.unlock(false)
	select {
	case <-got:
		t.Fatal("writer got in beside a reader")
	default:
	}
	l.unlock(false)
	if err := <-got; err != nil {
		t.Fatalf("writer: %v", err)
	}
	// The writer excludes readers and writers.
	if err := l.lock(ctx, false, soon()); !errors.Is(err, errWaitTimeout) {
		t.Fatalf("reader beside a writer: err = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.lock(cctx, true, far); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled writer: err = %v", err)
	}
	l.unlock(true)

	// A writer that gives up lets the readers it held back through.
	if err := l.lock(ctx, false, far); err != nil {
		t.Fatal(err)
	}
	go func() { got <- l.lock(ctx, true, time.Now().Add(200*time.Millisecond)) }()
	waitFor(t, l, func() bool { return l.waitingWriters == 1 })
	reader := make(chan error, 1)
	go func() { reader <- l.lock(ctx, false, far) }()
	if err := <-got; !errors.Is(err, errWaitTimeout) {
		t.Fatalf("writer: err = %v, want errWaitTimeout", err)
	}
	if err := <-reader; err != nil {
		t.Fatalf("reader after the writer gave up: %v", err)
	}
	l.unlock(false)
	l.unlock(false)
	if l.readers != 0 || l.writer || l.waitingWriters != 0 {
		t.Fatalf("lock not idle: %+v", l)
	}
}

func TestPathLockRegistry(t *testing.T) {
	a := acquirePathLock("/x/a.db", true)
	b := acquirePathLock("/x/a.db", true)
	c := acquirePathLock("/x/c.db", true)
	if a != b || a == c {
		t.Fatal("one lock per path expected")
	}
	releasePathLock("/x/a.db", true)
	releasePathLock("/x/a.db", true)
	releasePathLock("/x/c.db", true)
	registry.Lock()
	n := len(registry.locks)
	registry.Unlock()
	if n != 0 {
		t.Fatalf("%d locks left in the registry", n)
	}
}
