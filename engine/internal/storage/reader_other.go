//go:build !unix || solaris || aix || android

package storage

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// reader, where bbolt does not lock with flock, opens a read-only handle
// for each read and closes it after: bbolt holds its lock for as long as a
// handle is open, so a handle cannot be kept without shutting writers out.
type reader struct{}

func newReader(*writer) *reader { return &reader{} }

// allowHolds is a no-op: without flock there is no idle hold.
func (r *reader) allowHolds(int32) {}

func (r *reader) view(ctx context.Context, path string, deadline time.Time, fn func(*snapshot) error) (err error) {
	db, err := openDB(ctx, path, false, deadline, nil)
	if isEmpty(err) {
		return fn(&snapshot{})
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		data, err := readBuckets(tx)
		if err != nil {
			return err
		}
		return fn(&snapshot{tx: tx, data: data})
	})
}

func (r *reader) close() {}

func (r *reader) shut() {}

// holds reports false: here no read keeps a lock for a call (call.go).
func (r *reader) holds(*call) bool { return false }

// unhold has nothing to release: no read keeps a lock between calls.
func (r *reader) unhold() {}

// leave is never called here: no call holds a transaction.
func (r *reader) leave(snapshot, bool, bool) {}
