//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/internal/filelock"
)

// writer is the read-write database handle that the Stores of one path
// share within a process, kept between their writes. Like the reader, it
// holds the file's flock (exclusive) only while a write transaction runs.
// Every use is under the process-level lock held for writing, so it needs
// no lock of its own.
//
// Why this is safe: a read-write bbolt handle keeps, besides the memory
// map, the free-page list and the file's size in memory, and both go stale
// as soon as another handle commits (it would then hand out pages still in
// use). So the handle serves a write only if no other commit happened since
// its own last transaction: under the exclusive flock, the newest meta
// page, read through the map (MAP_SHARED sees other processes' writes), must
// still carry the transaction id this handle last committed or found, and
// the file must still be the one at path (a compaction renames a new one
// over it). Transaction ids only grow, so an equal id means no commit in
// between; otherwise the handle is closed and the file opened again, as
// every write did before. A writer that died in the middle of a commit
// left its meta page unwritten: its pages are free in the list we hold, as
// they are in the file's.
//
// Why bother: opening a handle maps the file and reads its free list, and
// closing it unmaps it; on a 64 MB store the page faults of a fresh map on
// the pages a commit reads, and munmap's TLB shootdown, were most of a
// set's CPU time (doc.go).
//
// Not for ever: a handle open for writing rules out the readers' idle hold
// (reader_unix.go) in every process, so it is closed writerLinger after
// the last write (lock.go).
type writer struct {
	db       *bolt.DB    // nil when none is open
	file     *os.File    // db's file
	id       os.FileInfo // file's identity when db was opened
	pageSize int64       // db's; its two meta pages come first
	txid     int         // the file's transaction when db last committed or read it
}

func newWriter() *writer { return &writer{} }

// update runs fn in a write transaction of the kept handle (opened first if
// it is not current) under the exclusive flock, which it releases after.
// The transaction commits, and fsyncs, if and only if fn returns nil. A
// failure other than a sentinel of fn, or a panic, closes the handle: its
// state in memory may no longer match the file. So does a failure to lock
// or open it.
func (w *writer) update(ctx context.Context, path string, deadline time.Time, fn func(*bolt.Tx) error) (err error) {
	ok := false // stays false on a failure of the handle
	defer func() {
		if r := recover(); r != nil {
			w.abandon()
			panic(r) // run recovers it
		}
		if !ok || syscall.Flock(int(w.file.Fd()), syscall.LOCK_UN) != nil {
			w.close()
		}
	}()
	if err := w.acquire(ctx, path, deadline); err != nil {
		return err
	}
	var txid int
	err = w.db.Update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		return fn(tx)
	})
	switch {
	case err == nil:
		w.txid = txid
	case isSentinel(err):
		w.txid = txid - 1 // rolled back: the file is at the transaction before
	default:
		return err
	}
	ok = true
	return err
}

// acquire takes the exclusive flock of the kept handle if it is current,
// else opens the file anew (openDB, which takes the flock).
func (w *writer) acquire(ctx context.Context, path string, deadline time.Time) error {
	if w.db != nil {
		if err := filelock.Lock(ctx, w.file, filelock.Exclusive, deadline); err != nil {
			return err
		}
		if w.current(path) {
			return nil
		}
		w.close() // releases the flock with the file
	}
	var file *os.File
	db, err := openDB(ctx, path, true, deadline, func(f *os.File) { file = f })
	if err != nil {
		return err
	}
	w.db, w.file, w.pageSize = db, file, int64(db.Info().PageSize)
	if w.id, err = file.Stat(); err == nil {
		w.txid, _, err = lastTx(db)
	}
	return err
}

// current reports whether the open handle may serve a write: its file is
// still the one at path, no one committed to it since its last
// transaction, and it still holds every page that transaction reached (a
// file cut short in place keeps its meta pages: writing through the map
// past its end would fault). The flock must be held.
func (w *writer) current(path string) bool {
	pi, err := os.Stat(path)
	if err != nil || !os.SameFile(w.id, pi) {
		return false
	}
	fi, err := w.file.Stat()
	if err != nil || fi.Size() < 2*w.pageSize {
		return false // no meta pages to read through the map
	}
	txid, size, err := lastTx(w.db)
	return err == nil && txid == w.txid && size <= fi.Size()
}

// lastTx returns the id of the last transaction committed to db's file, as
// its newest meta page says, and the size its pages reach.
func lastTx(db *bolt.DB) (txid int, size int64, err error) {
	tx, err := db.Begin(false)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	return tx.ID(), tx.Size(), nil
}

// abandon drops the handle after bbolt panicked in it, without closing it:
// the panicked transaction may still hold the handle's locks, on which
// Close would wait for ever. It releases the file's flock, which would
// otherwise lock every later write out; the map stays until the process
// exits, as after a panic in openDB.
func (w *writer) abandon() {
	if w.file != nil {
		releaseFile(w.file)
	}
	w.db, w.file, w.id, w.pageSize, w.txid = nil, nil, nil, 0, 0
}

// open reports whether the handle is open: the process has the file open
// for writing. Callers hold the process-level lock, shared or exclusive.
func (w *writer) open() bool { return w.db != nil }

// fileID returns the identity of the open handle's file, nil if none is
// open. Callers hold the process-level lock for writing.
func (w *writer) fileID() os.FileInfo { return w.id }

// close closes the handle, which releases any flock.
func (w *writer) close() {
	if w.db != nil {
		w.db.Close()
	}
	w.db, w.file, w.id, w.pageSize, w.txid = nil, nil, nil, 0, 0
}
