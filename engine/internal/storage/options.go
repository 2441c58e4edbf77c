package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Defaults applied by Open to the zero fields of Options.
const (
	DefaultMaxKeyBytes   = 1024
	DefaultMaxValueBytes = 2 << 20 // 2 MiB
	DefaultMaxKeys       = 1_000_000
	DefaultMaxBytes      = 1 << 30 // 1 GiB

	// DefaultWait bounds how long an operation whose context has no
	// deadline waits for the database lock before failing with
	// ErrUnavailable. A context deadline replaces it.
	DefaultWait = 10 * time.Second
)

// Options are the limits of one store. A zero field takes its default.
type Options struct {
	MaxKeyBytes   int   // longest key; default 1024, at most 32768
	MaxValueBytes int   // longest value; default 2 MiB
	MaxKeys       int   // quota on the number of keys; default 1_000_000
	MaxBytes      int64 // quota on the sum of len(key)+len(value); default 1 GiB

	// NoIdleHold keeps no idle hold of the file between reads (doc.go):
	// no inotify watch of the file and the folders above it, whose set-up
	// costs more than a process that reads once and exits saves by it. The
	// Stores of one file in a process share one handle, which holds idle
	// while any of them allows it.
	NoIdleHold bool
}

// withDefaults returns o with zero fields set to their defaults, or an
// error wrapping ErrInvalid if a field is out of range.
func (o Options) withDefaults() (Options, error) {
	if o.MaxKeyBytes < 0 || o.MaxValueBytes < 0 || o.MaxKeys < 0 || o.MaxBytes < 0 {
		return o, fmt.Errorf("%w: negative limit in options", ErrInvalid)
	}
	if o.MaxKeyBytes == 0 {
		o.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxKeyBytes > bolt.MaxKeySize {
		return o, fmt.Errorf("%w: MaxKeyBytes %d is above the database limit %d", ErrInvalid, o.MaxKeyBytes, bolt.MaxKeySize)
	}
	if int64(o.MaxValueBytes) > bolt.MaxValueSize {
		return o, fmt.Errorf("%w: MaxValueBytes %d is above the database limit %d", ErrInvalid, o.MaxValueBytes, int64(bolt.MaxValueSize))
	}
	return o, nil
}
