package storage

import "errors"

// Sentinel errors. Every error returned by this package is an *Error whose
// Err wraps exactly one of these, so callers test them with errors.Is.
var (
	// ErrNotFound: Get or Delete of a key that is not stored.
	ErrNotFound = errors.New("not found")

	// ErrExists: Add of a key that is already stored.
	ErrExists = errors.New("already exists")

	// ErrChanged: a conditional write (SetIf, AddIf, DeleteIf) found a
	// key of its Seen holding another value than the caller read.
	ErrChanged = errors.New("changed since it was read")

	// ErrTooLarge: a key or value longer than Options.MaxKeyBytes or
	// Options.MaxValueBytes.
	ErrTooLarge = errors.New("too large")

	// ErrQuota: a Set that would exceed Options.MaxKeys or Options.MaxBytes.
	ErrQuota = errors.New("quota exceeded")

	// ErrUnavailable: the database could not be opened or locked in time
	// (another process held it for too long, or the context ended), the
	// file is not a valid database, an I/O call failed, or the Store is
	// closed.
	ErrUnavailable = errors.New("unavailable")

	// ErrInvalid: an argument is unusable: an empty key, a List limit below
	// one, a negative option.
	ErrInvalid = errors.New("invalid argument")
)

// Error records the operation and the database file that failed, in the
// manner of fs.PathError. Its message never contains key or value bytes:
// keys may be secret names and values are secrets. Only lengths, limits and
// the path are ever shown, for example
//
//	storage file /home/me/.local/share/sesame/storage/localstore@….db: too large: value is 3145728 bytes, limit 2097152
//
// The message names the file, the one fact this layer adds; Op is for
// programs, since the layer above says what it was doing in its own words.
type Error struct {
	Op   string // "open", "get", "set", "add", "delete", "list"
	Path string // the database file
	Err  error  // wraps one of the sentinels
}

func (e *Error) Error() string {
	return "storage file " + e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
