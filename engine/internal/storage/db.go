package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Each operation opens the database, runs one transaction and closes it
// again, so that the file lock is held for one transaction only and many
// processes can interleave (see doc.go for the measurements behind this).

// view runs fn in a read transaction under a shared lock. data is nil if
// the vault has never been written (no file, an empty file, no bucket).
func (s *Store) view(ctx context.Context, op string, fn func(data *bolt.Bucket) error) error {
	return s.withDB(ctx, op, false, func(db *bolt.DB) error {
		if db == nil {
			return fn(nil)
		}
		return db.View(func(tx *bolt.Tx) error {
			data, err := readBuckets(tx)
			if err != nil {
				return err
			}
			return fn(data)
		})
	})
}

// update runs fn in a write transaction under an exclusive lock; the
// transaction is committed, and fsynced, if and only if fn returns nil.
func (s *Store) update(ctx context.Context, op string, fn func(data, meta *bolt.Bucket) error) error {
	return s.withDB(ctx, op, true, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			data, meta, err := writeBuckets(tx)
			if err != nil {
				return err
			}
			return fn(data, meta)
		})
	})
}

// withDB takes the process-level lock, opens the database (which takes the
// file lock), runs fn and closes the database again. A reader finding no
// database calls fn(nil). Every error is returned as an *Error.
func (s *Store) withDB(ctx context.Context, op string, write bool, fn func(*bolt.DB) error) (err error) {
	if err := s.enter(); err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.ops.Done()
	defer func() {
		// A damaged file can make bbolt panic; the transaction has been
		// rolled back and the database closed by the deferred calls
		// below, so the process can go on. The panic value is dropped:
		// it might quote bytes of the file.
		if r := recover(); r != nil {
			err = s.fail(ctx, op, errors.New("database file is damaged (bbolt panicked)"))
		}
	}()

	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	deadline := deadlineOf(ctx)
	if err := s.lock.lock(ctx, write, deadline); err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.lock.unlock(write)

	db, err := bolt.Open(s.path, 0o600, &bolt.Options{
		ReadOnly: !write,
		Timeout:  max(time.Until(deadline), time.Millisecond),
		OpenFile: openLocked(ctx, deadline),
		// NoSync stays false: Commit returns only after fdatasync, so
		// an acknowledged write survives a crash of the process or OS.
	})
	if err != nil {
		if !write && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, errEmptyFile)) {
			err = fn(nil)
		}
		if err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = s.fail(ctx, op, cerr)
		}
	}()
	if err := fn(db); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(DefaultWait)
}

// fail wraps err in an *Error naming op and the path, making sure it wraps
// one of the sentinels. Nothing here ever formats a key or a value.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	for _, sentinel := range []error{ErrNotFound, ErrTooLarge, ErrQuota, ErrUnavailable, ErrInvalid} {
		if errors.Is(err, sentinel) {
			return &Error{Op: op, Path: s.path, Err: err}
		}
	}
	switch {
	case errors.Is(err, errWaitTimeout), errors.Is(err, bolt.ErrTimeout):
		if _, ok := ctx.Deadline(); ok {
			err = fmt.Errorf("%w: database still locked at the context deadline: %w", ErrUnavailable, context.DeadlineExceeded)
		} else {
			err = fmt.Errorf("%w: database locked for more than %s", ErrUnavailable, DefaultWait)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		// An *fs.PathError would repeat the path; keep its op and cause.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%w: %s: %w", ErrUnavailable, pe.Op, pe.Err)
		} else {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return &Error{Op: op, Path: s.path, Err: err}
}
