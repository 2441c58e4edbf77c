package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sesamehq/sesame/internal/testonly"
)

// A snapshot is a read transaction's view of the data bucket.
type snapshot struct {
	tx   *bolt.Tx
	file os.FileInfo  // the identity of the file tx reads; nil where unknown
	data *bolt.Bucket // nil: the vault has never been written
	cur  *bolt.Cursor // over data, made by the first get and reused by the next
}

// get returns the value of key, pointing into the memory map, or nil. Its
// cursor is kept for the snapshot's later gets: a Bucket.Get makes a cursor
// and grows its stack each time, three allocations a read.
func (s *snapshot) get(key []byte) []byte {
	if s.data == nil {
		return nil
	}
	if s.cur == nil {
		s.cur = s.data.Cursor()
	}
	if k, v := s.cur.Seek(key); bytes.Equal(k, key) {
		return v // nil for a nested bucket, which data never holds
	}
	return nil
}

// view runs fn on a snapshot under a shared lock: a read transaction of its
// own, or its call's (WithCall).
func (s *Store) view(ctx context.Context, op string, fn func(*snapshot) error) error {
	return s.run(ctx, op, false, func(deadline time.Time) error {
		return s.lock.reader.view(ctx, s.path, deadline, fn)
	})
}

// update runs fn in a write transaction under an exclusive lock, on the
// read-write handle of the path (writer_unix.go). The transaction is
// committed, and fsynced, if and only if fn returns nil.
func (s *Store) update(ctx context.Context, op string, fn func(data, meta *bolt.Bucket) error) error {
	return s.run(ctx, op, true, func(deadline time.Time) error {
		defer s.lock.wrote()
		return s.lock.writes.update(ctx, s.path, deadline, func(tx *bolt.Tx) error {
			data, meta, err := writeBuckets(tx)
			if err != nil {
				return err
			}
			return fn(data, meta)
		})
	})
}

// run does what every operation shares: it counts the operation in flight,
// takes the process-level lock for reading or writing before the deadline
// (from ctx, or DefaultWait), calls body, and turns any error, or a panic of
// bbolt on a damaged file, into an *Error.
func (s *Store) run(ctx context.Context, op string, write bool, body func(deadline time.Time) error) (err error) {
	if err := s.enter(); err != nil {
		return s.fail(ctx, op, err)
	}
	defer s.ops.Done()
	// A read through the memory map past the end of a truncated file is a
	// SIGBUS, which would kill the whole process; on this goroutine it
	// becomes a panic, recovered below like bbolt's own.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// The deferred calls of body have rolled back the transaction and
		// released the database. The panic value is dropped: it might
		// quote bytes of the file.
		if r := recover(); r != nil {
			err = s.fail(ctx, op, errors.New("database file is damaged (bbolt panicked)"))
		}
	}()
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, op, err)
	}
	deadline := deadlineOf(ctx)
	c := callOf(ctx)
	if write {
		c.drop(false, false) // a call's write ends its hold (see WithCall)
	}
	// A read that a call's held lock serves takes no process lock: a
	// writer of this process may hold it, waiting for the file lock that
	// the call holds.
	if write || !s.lock.reader.holds(c) {
		if err := s.lock.lock(ctx, write, deadline); err != nil {
			return s.fail(ctx, op, err)
		}
		defer s.lock.unlock(write)
	}
	if write {
		s.lock.reader.unhold() // the idle read lock of this process (reader_unix.go)
	}
	if err := body(deadline); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// openDB opens the database file, taking its flock (exclusive if write)
// before deadline. A writer creates the file if needed. opened, if not nil,
// is called with the file once it is locked.
func openDB(ctx context.Context, path string, write bool, deadline time.Time, opened func(*os.File)) (*bolt.DB, error) {
	lockedOpen := openLocked(ctx, deadline)
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			// bbolt panicked on a damaged file, with the file open,
			// locked and mapped. Release it, or its flock would outlive
			// this operation and lock every later one out until its
			// deadline. (The map itself cannot be reached: it stays until
			// the process exits.) run recovers the panic.
			if file != nil {
				releaseFile(file)
			}
			panic(r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly: !write,
		// Our OpenFile has taken the lock by the time bbolt asks for it
		// (except where flock is missing); bbolt then finds it at once.
		Timeout: max(time.Until(deadline), time.Millisecond),
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := lockedOpen(name, flag, perm)
			if err == nil {
				file = f
				if opened != nil {
					opened(f)
				}
			}
			return f, err
		},
		// NoSync is false: Commit returns only after fdatasync, so an
		// acknowledged write survives a crash of the process or the OS.
		// (Only a test process turns it on: testonly.NoSync.)
		NoSync: !testonly.Sync(),
	})
}

// isEmpty reports an error of openDB that, for a reader, means "nothing
// stored yet": no file, or a file of zero bytes.
func isEmpty(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errEmptyFile)
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(DefaultWait)
}

var sentinels = []error{ErrNotFound, ErrExists, ErrChanged, ErrTooLarge, ErrQuota, ErrUnavailable, ErrInvalid}

// isSentinel reports whether err is an expected outcome (not found, quota,
// ...) rather than a failure of the database.
func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fail wraps err in an *Error naming op and the path, making sure it wraps
// one of the sentinels. Nothing here ever formats a key or a value.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if isSentinel(err) {
		return &Error{Op: op, Path: s.path, Err: err}
	}
	switch {
	case errors.Is(err, errWaitTimeout), errors.Is(err, berrors.ErrTimeout):
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
