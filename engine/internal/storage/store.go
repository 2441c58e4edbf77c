package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/filelock"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Store is the key-value storage area of one vault: one bbolt database
// file. A Store is safe for use by many goroutines, and any number of
// Stores, in this process or others, may use the same file at once.
type Store struct {
	path    string
	opts    Options
	lock    *pathLock
	lockKey string // the path lock was acquired for

	mu     sync.Mutex
	closed bool
	ops    sync.WaitGroup // operations in flight, awaited by Close
}

// Open prepares the store kept in the database file at path. It creates
// the missing parent folders with mode 0700 and, if the file does not
// exist, creates it with mode 0600 and initialises it, durably. No lock is
// held between operations: each one locks the file for one transaction
// (see the package documentation).
//
// The folders and the file must be the user's (or root's) and writable by
// no one else, and the file must not be a link (package fileperm); every
// operation opens the file with O_NOFOLLOW and checks it again.
//
// Open fails with ErrInvalid for an empty path or out-of-range options,
// and with ErrUnavailable if the folder or the file cannot be created, is
// not trusted (the error also wraps fileperm.ErrUntrusted and says how to
// fix it) or the file is not a regular file. Open does not read an
// existing file: one that is not a valid database fails each operation
// with ErrUnavailable.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, &Error{Op: "open", Path: path, Err: fmt.Errorf("%w: empty path", ErrInvalid)}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	s := &Store{path: abs}
	if s.opts, err = opts.withDefaults(); err != nil {
		return nil, &Error{Op: "open", Path: abs, Err: err}
	}
	if err := fileperm.MkdirAll(filepath.Dir(abs)); err != nil {
		return nil, s.fail(context.Background(), "open", err)
	}
	// Create the file under the lock of the path as given; share the
	// lock of the file's real path, so that Stores opened through
	// symbolic links share it too. (Aliases that remain, such as hard
	// links, are still safe: the file lock orders them, only slower.)
	hold := !s.opts.NoIdleHold
	s.lock, s.lockKey = acquirePathLock(abs, hold), abs
	if err := s.create(); err != nil {
		releasePathLock(abs, hold)
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		releasePathLock(abs, hold)
		s.lock, s.lockKey = acquirePathLock(real, hold), real
	}
	return s, nil
}

// create makes sure the database file exists and is initialised.
func (s *Store) create() error {
	fi, err := os.Lstat(s.path)
	switch {
	case err == nil:
		if err := fileperm.CheckFile(s.path, fi); err != nil {
			return s.fail(context.Background(), "open", err)
		}
		if fi.Size() > 0 {
			return nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return s.fail(context.Background(), "open", err)
	}
	// Missing, or empty because its creator died: write the buckets.
	if err := s.update(context.Background(), "open", func(_, _ *bolt.Bucket) error { return nil }); err != nil {
		return err
	}
	// Make the new directory entry durable too.
	if !testonly.Sync() {
		return nil
	}
	if err := filelock.SyncDir(filepath.Dir(s.path)); err != nil {
		return s.fail(context.Background(), "open", err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close waits for the operations in flight and releases the Store. Later
// operations fail with ErrUnavailable; a second Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.ops.Wait()
	releasePathLock(s.lockKey, !s.opts.NoIdleHold)
	return nil
}

// enter counts an operation in flight, or fails if the Store is closed.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: store is closed", ErrUnavailable)
	}
	s.ops.Add(1)
	return nil
}

// Get returns a copy of the value stored under key. It fails with
// ErrNotFound if there is none, ErrInvalid for an empty key, ErrTooLarge
// for a key longer than MaxKeyBytes.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.checkKey(key); err != nil {
		return nil, s.fail(ctx, "get", err)
	}
	var value []byte
	err := s.view(ctx, "get", func(snap *snapshot) error {
		v := snap.get(key)
		if v == nil {
			return ErrNotFound
		}
		// v points into the memory map, which Close unmaps.
		value = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	return value, err
}

// Set stores value under key, replacing any value there, and returns once
// the change is on disk. It fails with ErrInvalid for an empty key,
// ErrTooLarge for a key or value over its limit, and ErrQuota if the store
// would then hold more than MaxKeys keys or MaxBytes bytes (a Set that does
// not grow the store is always allowed).
func (s *Store) Set(ctx context.Context, key, value []byte) error {
	return s.put(ctx, "set", key, value, false, nil)
}

// Add stores value under key only if key is not stored: otherwise it
// returns ErrExists and writes nothing. The check and the write are one
// transaction under the file's write lock, so of several processes adding
// one key at once exactly one succeeds.
func (s *Store) Add(ctx context.Context, key, value []byte) error {
	return s.put(ctx, "add", key, value, true, nil)
}

// put is Set, or Add when add is set, done only if every key of seen holds
// what seen says.
func (s *Store) put(ctx context.Context, op string, key, value []byte, add bool, seen Seen) error {
	if err := s.checkKey(key); err != nil {
		return s.fail(ctx, op, err)
	}
	if len(value) > s.opts.MaxValueBytes {
		return s.fail(ctx, op, fmt.Errorf("%w: value is %d bytes, limit %d", ErrTooLarge, len(value), s.opts.MaxValueBytes))
	}
	// Own the bytes: bbolt reads them until the commit, and the caller's
	// slices may be guest memory.
	key, value = bytes.Clone(key), append(make([]byte, 0, len(value)), value...)
	return s.update(ctx, op, func(data, meta *bolt.Bucket) error {
		if err := seen.check(data); err != nil {
			return err
		}
		u, err := readUsage(data, meta)
		if err != nil {
			return err
		}
		next := u
		old := data.Get(key)
		if old != nil && add {
			return ErrExists
		}
		if old == nil {
			next.keys++
			next.bytes += int64(len(key) + len(value))
		} else {
			next.bytes += int64(len(value) - len(old))
		}
		if next.keys > u.keys && next.keys > int64(s.opts.MaxKeys) {
			return fmt.Errorf("%w: the store holds %d keys, limit %d", ErrQuota, u.keys, s.opts.MaxKeys)
		}
		if next.bytes > u.bytes && next.bytes > s.opts.MaxBytes {
			return fmt.Errorf("%w: the store would hold %d bytes, limit %d", ErrQuota, next.bytes, s.opts.MaxBytes)
		}
		if err := data.Put(key, value); err != nil {
			return err
		}
		return writeUsage(meta, next)
	})
}

// Delete removes key and returns once the change is on disk. It fails with
// ErrNotFound if key is not stored, ErrInvalid for an empty key.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	return s.del(ctx, key, nil)
}

// del is Delete, done only if every key of seen holds what seen says.
func (s *Store) del(ctx context.Context, key []byte, seen Seen) error {
	if err := s.checkKey(key); err != nil {
		return s.fail(ctx, "delete", err)
	}
	return s.update(ctx, "delete", func(data, meta *bolt.Bucket) error {
		if err := seen.check(data); err != nil {
			return err
		}
		old := data.Get(key)
		if old == nil {
			return ErrNotFound
		}
		u, err := readUsage(data, meta)
		if err != nil {
			return err
		}
		u.keys--
		u.bytes -= int64(len(key) + len(old))
		if err := data.Delete(key); err != nil {
			return err
		}
		return writeUsage(meta, u)
	})
}

// List returns, in byte order, up to limit keys that start with prefix and
// sort strictly after after (nil or empty: from the first key). To page
// through a large store, pass the last key of one page as after of the
// next; a page shorter than limit is the last. It fails with ErrInvalid if
// limit is below one, ErrTooLarge if prefix or after is longer than
// MaxKeyBytes.
func (s *Store) List(ctx context.Context, prefix, after []byte, limit int) ([][]byte, error) {
	return s.list(ctx, prefix, after, limit, nil)
}

// list is List; seen, when not nil, is called first in the listing's
// transaction, and its error is the listing's (Batch.observe).
func (s *Store) list(ctx context.Context, prefix, after []byte, limit int, seen func(*snapshot) error) ([][]byte, error) {
	if err := s.checkRange(prefix, after, limit); err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	var keys [][]byte
	err := s.view(ctx, "list", func(snap *snapshot) error {
		if seen != nil {
			if err := seen(snap); err != nil {
				return err
			}
		}
		data := snap.data
		if data == nil {
			return nil
		}
		c := data.Cursor()
		for k, _ := seek(c, prefix, after); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < limit; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// An Entry is a key and its value, as Scan returns them.
type Entry struct {
	Key, Value []byte
}

// Scan is List with the values: it returns, in byte order, the keys that
// start with prefix and sort strictly after after, with their values, read
// in one transaction. A page holds at most limit entries, and entries whose
// keys and values add up to at most maxBytes, but always the first entry
// there is, however long. more reports that the page stopped at a bound
// while entries remain: the last key of the page is then the after of the
// next. It fails as List does, and with ErrInvalid if maxBytes is below
// one.
func (s *Store) Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) (page []Entry, more bool, err error) {
	return s.scan(ctx, prefix, after, limit, maxBytes, nil)
}

// scan is Scan, with seen as in list.
func (s *Store) scan(ctx context.Context, prefix, after []byte, limit, maxBytes int, seen func(*snapshot) error) (page []Entry, more bool, err error) {
	if err := s.checkRange(prefix, after, limit); err != nil {
		return nil, false, s.fail(ctx, "scan", err)
	}
	if maxBytes < 1 {
		return nil, false, s.fail(ctx, "scan", fmt.Errorf("%w: maxBytes %d is below 1", ErrInvalid, maxBytes))
	}
	err = s.view(ctx, "scan", func(snap *snapshot) error {
		if seen != nil {
			if err := seen(snap); err != nil {
				return err
			}
		}
		data := snap.data
		if data == nil {
			return nil
		}
		c := data.Cursor()
		size := 0
		for k, v := seek(c, prefix, after); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			size += len(k) + len(v)
			if len(page) == limit || (len(page) > 0 && size > maxBytes) {
				more = true
				break
			}
			// k and v point into the memory map, which Close unmaps.
			page = append(page, Entry{Key: bytes.Clone(k), Value: append(make([]byte, 0, len(v)), v...)})
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return page, more, nil
}

// seek puts c on the first key that starts with prefix and sorts strictly
// after after (nil or empty: the first with prefix) and returns it, or a
// key past the prefix, or nil.
func seek(c *bolt.Cursor, prefix, after []byte) (k, v []byte) {
	if len(after) > 0 && bytes.Compare(after, prefix) >= 0 {
		if k, v = c.Seek(after); bytes.Equal(k, after) {
			k, v = c.Next()
		}
		return k, v
	}
	return c.Seek(prefix)
}

// checkRange checks the arguments of List and Scan.
func (s *Store) checkRange(prefix, after []byte, limit int) error {
	if limit < 1 {
		return fmt.Errorf("%w: limit %d is below 1", ErrInvalid, limit)
	}
	if len(prefix) > s.opts.MaxKeyBytes || len(after) > s.opts.MaxKeyBytes {
		return fmt.Errorf("%w: prefix or after is longer than the key limit %d", ErrTooLarge, s.opts.MaxKeyBytes)
	}
	return nil
}

func (s *Store) checkKey(key []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	if len(key) > s.opts.MaxKeyBytes {
		return fmt.Errorf("%w: key is %d bytes, limit %d", ErrTooLarge, len(key), s.opts.MaxKeyBytes)
	}
	return nil
}
