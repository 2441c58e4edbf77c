//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/internal/filelock"
)

// reader is the read-only database handle that the Stores of one path
// share within a process. Unlike a bbolt handle used the ordinary way, it
// holds the shared flock only while a read transaction runs: between reads
// the lock is released and writers of any process may commit.
//
// Why this is safe: under the shared lock no writer runs, so every page
// reachable from the newest meta page is stable; a read-only bbolt handle
// keeps no state between transactions except the memory map (each
// transaction re-reads the meta pages through the map, and MAP_SHARED sees
// what other processes wrote through the page cache). The map stays valid
// as long as the file does not outgrow it and is still the file at path;
// both are checked each time the lock is taken, and the handle is reopened
// otherwise. bbolt never shrinks a file.
//
// Why bother: opening a bbolt handle maps the file and closing it unmaps
// it; the page faults and the TLB shootdown of munmap cost 80–250 µs per
// read and grow with the store, against ~5 µs for a read through a kept map
// (numbers in doc.go).
type reader struct {
	gate    chan struct{} // one slot; held to change the fields below
	holders int           // reads running; the flock is held iff > 0
	db      *bolt.DB      // nil when none is open
	file    *os.File      // db's file
	id      os.FileInfo   // file's identity when db was opened
	size    int64         // file size when db was opened; db maps at least this much
	stale   bool          // a read failed: reopen when the last one leaves
}

func newReader() *reader { return &reader{gate: make(chan struct{}, 1)} }

// view calls fn with the shared handle, or with nil if nothing is stored
// at path yet, under the shared flock. Under a WithCall call, the first
// read keeps its holder for the call's later reads, which then neither
// lock nor check (call.go).
func (r *reader) view(ctx context.Context, path string, deadline time.Time, fn func(*bolt.DB) error) error {
	c := callOf(ctx)
	if db := r.held(c); db != nil {
		failed := true // stays true on a panic
		defer func() {
			if failed {
				c.drop(true, false)
			}
		}()
		err := fn(db)
		failed = err != nil && !isSentinel(err)
		return err
	}
	db, err := r.enter(ctx, path, deadline)
	if err != nil {
		return err
	}
	if db == nil {
		return fn(nil)
	}
	failed := true // stays true on a panic
	defer func() {
		if failed || !r.keep(c, db) {
			r.leave(failed)
		}
	}()
	err = fn(db)
	failed = err != nil && !isSentinel(err)
	return err
}

// held returns the handle if c holds a holder of r on the file r has open,
// or nil. A hold on a file closed since (every Store of the path closed) is
// void and forgotten.
func (r *reader) held(c *call) *bolt.DB {
	hr, file := c.holding()
	if hr != r {
		return nil
	}
	r.gate <- struct{}{}
	db := r.db
	void := r.file != file
	r.unlockGate()
	if void {
		c.drop(false, false) // unhold finds the file changed: uncounts nothing
		return nil
	}
	return db
}

// holds reports whether c holds a holder of r (valid or not: view checks).
func (r *reader) holds(c *call) bool {
	hr, _ := c.holding()
	return hr == r
}

// keep makes c keep the holder that a read on db counted, and reports
// whether it did (see call.hold).
func (r *reader) keep(c *call, db *bolt.DB) bool {
	r.gate <- struct{}{}
	file := r.file
	same := r.db == db // always, while a holder is counted
	r.unlockGate()
	return same && c.hold(r, file)
}

// unhold uncounts the holder a call kept on file, unless the handle has
// been closed since (close forgets every holder).
func (r *reader) unhold(file *os.File, failed bool) {
	r.gate <- struct{}{}
	defer r.unlockGate()
	if file != nil && r.file == file && r.holders > 0 {
		r.leaveLocked(failed)
	}
}

// enter returns the handle with the shared flock held and one more holder
// counted, or nil and no holder if there is no database yet.
func (r *reader) enter(ctx context.Context, path string, deadline time.Time) (*bolt.DB, error) {
	if err := r.lockGate(ctx, deadline); err != nil {
		return nil, err
	}
	defer r.unlockGate()
	if r.holders > 0 {
		r.holders++
		return r.db, nil
	}
	if r.db != nil {
		if err := filelock.Lock(ctx, r.file, filelock.Shared, deadline); err != nil {
			if !errors.Is(err, errWaitTimeout) && ctx.Err() == nil {
				r.close() // the descriptor is broken: start afresh
			}
			return nil, err
		}
		if !r.current(path) {
			r.close() // releases the flock with the file
		}
	}
	if r.db == nil {
		var file *os.File
		db, err := openDB(ctx, path, false, deadline, func(f *os.File) { file = f })
		if isEmpty(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		fi, err := file.Stat()
		if err != nil {
			db.Close()
			return nil, err
		}
		r.db, r.file, r.id, r.size = db, file, fi, fi.Size()
	}
	r.holders++
	return r.db, nil
}

// current reports whether the open handle may serve a read: its file is
// still the one at path and its pages still fit in the map. The flock must
// be held.
//
// The fit is read from the newest meta page, through the map, rather than
// by an fstat of the file: every page a transaction can reach lies below
// the meta's high-water mark (tx.Size), a read-only handle reads no other
// (it loads no freelist), and the map covers at least the size the file had
// when it was opened. A system call fewer per read (~2.5 µs here).
func (r *reader) current(path string) bool {
	pi, err := os.Stat(path)
	if err != nil || !os.SameFile(r.id, pi) {
		return false
	}
	tx, err := r.db.Begin(false)
	if err != nil {
		return false
	}
	defer tx.Rollback()
	return tx.Size() <= r.size
}

// leave uncounts a holder; the last one releases the flock, or closes the
// handle if a read failed on it.
func (r *reader) leave(failed bool) {
	r.gate <- struct{}{} // only briefly held while holders > 0
	defer r.unlockGate()
	r.leaveLocked(failed)
}

// leaveLocked is leave with the gate held.
func (r *reader) leaveLocked(failed bool) {
	r.stale = r.stale || failed
	if r.holders--; r.holders > 0 {
		return
	}
	if r.stale {
		r.close()
		return
	}
	if err := syscall.Flock(int(r.file.Fd()), syscall.LOCK_UN); err != nil {
		r.close()
	}
}

// close closes the handle, which releases any flock, and forgets the
// holders (calls' holds on it become void); the gate must be held or the
// reader unused.
func (r *reader) close() {
	if r.db != nil {
		r.db.Close()
	}
	r.db, r.file, r.id, r.size, r.stale, r.holders = nil, nil, nil, 0, false, 0
}

// shut closes the handle under the gate, when the last Store of the path
// closes: a call may still be releasing its hold on it.
func (r *reader) shut() {
	r.gate <- struct{}{}
	defer r.unlockGate()
	r.close()
}

func (r *reader) lockGate(ctx context.Context, deadline time.Time) error {
	select {
	case r.gate <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errWaitTimeout
	}
}

func (r *reader) unlockGate() { <-r.gate }
