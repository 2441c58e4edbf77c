//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// The reads of a call where a read handle is kept (reader_unix.go).

// TestCallOneTransaction: a plain read begins one read transaction (the
// one that checked the handle serves it), and the reads of a call, of
// every kind, share one; a write of the call ends it, and the reads after
// share a second.
func TestCallOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	txs := func() int {
		t.Helper()
		r := s.lock.reader
		r.gate <- struct{}{}
		defer r.unlockGate()
		if r.db == nil {
			t.Fatal("no read handle open")
		}
		return r.db.Stats().TxN
	}
	if _, err := s.Get(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	before := txs()
	if _, err := s.Get(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if n := txs() - before; n != 1 {
		t.Errorf("a plain read began %d read transactions, want 1", n)
	}

	reads := func(call context.Context) {
		t.Helper()
		if v, err := s.Get(call, []byte("k")); err != nil || string(v) != "1" && string(v) != "2" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if _, err := s.Get(call, []byte("missing")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing key: %v", err)
		}
		if keys, err := s.List(call, nil, nil, 10); err != nil || len(keys) != 1 {
			t.Fatalf("List = %q, %v", keys, err)
		}
		if page, _, err := s.Scan(call, nil, nil, 10, 1<<10); err != nil || len(page) != 1 {
			t.Fatalf("Scan = %d entries, %v", len(page), err)
		}
	}
	call, done := WithCall(ctx)
	before = txs()
	reads(call)
	if n := txs() - before; n != 1 {
		t.Errorf("four reads of a call began %d read transactions, want 1", n)
	}
	if err := s.Set(call, []byte("k"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	before = txs()
	reads(call)
	if v, err := s.Get(call, []byte("k")); err != nil || string(v) != "2" {
		t.Fatalf("the call's own write reads %q, %v", v, err)
	}
	done()
	if n := txs() - before; n != 1 {
		t.Errorf("the reads of a call after its write began %d read transactions, want 1", n)
	}
}

// TestStoreClosesUnderCall: the last Store of a file may close while a
// call still holds its read transaction (an engine closing under a
// request). Close does not wait for the call; the call keeps the file's
// shared lock until it ends, and releases it then.
func TestStoreClosesUnderCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "k", "1")
	call, done := WithCall(context.Background())
	if _, err := s.Get(call, []byte("k")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for a call that holds a read transaction")
	}
	if _, err := s.Get(call, []byte("k")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a read of the call through the closed Store: %v; want ErrUnavailable", err)
	}

	other, err := Open(path, Options{}) // a new process-level lock and handle
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := other.Set(short, []byte("k"), []byte("2")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a write while the call holds the file: %v; want ErrUnavailable", err)
	}
	done()
	mustSet(t, other, "k", "3")
	if v, err := other.Get(context.Background(), []byte("k")); err != nil || string(v) != "3" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}
