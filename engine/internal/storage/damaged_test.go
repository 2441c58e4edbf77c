package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedFileDoesNotLockOut: bbolt panics when it opens a truncated
// file for writing, after it has locked and mapped it. Each operation must
// then fail at once as damaged, and the next ones too: the flock of the
// panicked open used to stay held (the map kept the file open), so every
// later operation in the process waited for its deadline. The damaged file
// is left as it was.
func TestDamagedFileDoesNotLockOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 40 {
		if err := s.Set(context.Background(), []byte{'k', byte(i)}, bytes.Repeat([]byte("v"), 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(context.Background(), []byte("k\x01")); err != nil {
		t.Fatal(err) // the shared read handle is now open
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := good[:len(good)/2]
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Set(ctx, []byte("new"), []byte("v"))
		cancel()
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("set %d on a truncated file: %v; want it refused as damaged, at once", i, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		_, err = s.List(ctx, nil, nil, 10)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("list %d after a refused set: %v; the file stayed locked", i, err)
		}
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, damaged) {
		t.Error("the damaged file was changed")
	}
}

// TestTruncatedFileDoesNotCrash: a file cut short, opened afresh. A read
// through bbolt's memory map past the end of the file is a SIGBUS, which
// used to kill the process; it must be an error that says the file is
// damaged, and the file must stay as it was.
func TestTruncatedFileDoesNotCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := s.Set(context.Background(), []byte{'k', byte(i)}, bytes.Repeat([]byte{byte(i)}, 300)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4096, 2*4096 + 100, 3 * 4096, len(good) / 2, len(good) - 4096} {
		damaged := good[:n]
		p := filepath.Join(dir, "cut.db")
		if err := os.WriteFile(p, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			_, err := s.Get(context.Background(), []byte{'k', byte(i)})
			if err != nil && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("cut at %d: get: %v", n, err)
			}
		}
		if _, err := s.List(context.Background(), nil, nil, 1000); err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("cut at %d: list: %v", n, err)
		}
		s.Close()
		if now, _ := os.ReadFile(p); !bytes.Equal(now, damaged) {
			t.Errorf("cut at %d: the damaged file was changed by reads", n)
		}
	}
}
