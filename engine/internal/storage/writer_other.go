//go:build !unix || solaris || aix || android

package storage

import (
	"context"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writer, where bbolt does not lock with flock, opens a read-write handle
// for each write and closes it after: bbolt holds its lock for as long as a
// handle is open, so a handle cannot be kept without shutting everyone
// else out.
type writer struct{}

func newWriter() *writer { return &writer{} }

func (w *writer) update(ctx context.Context, path string, deadline time.Time, fn func(*bolt.Tx) error) (err error) {
	db, err := openDB(ctx, path, true, deadline, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return db.Update(fn)
}

func (w *writer) close() {}

// fileID returns nil: the file's identity is not kept here.
func (w *writer) fileID() os.FileInfo { return nil }
