//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
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
	holders int           // reads running, and calls holding; the flock is held iff > 0 or idle
	db      *bolt.DB      // nil when none is open
	file    *os.File      // db's file
	id      os.FileInfo   // file's identity when db was opened
	size    int64         // file size when db was opened; db maps at least this much
	stale   bool          // a read failed, or the last Store closed: close when the last holder leaves

	// The idle hold (see hold): the flock kept with no holder, for the
	// next read to use without taking it and checking the file again.
	watched bool          // the watch of hold_linux.go reports changes to the file and its path
	allowed atomic.Int32  // open Stores of the file that allow an idle hold (Options.NoIdleHold)
	quiet   bool          // the flock was taken, the file checked and no writer had it open, when events was seen
	seen    uint64        // events when quiet was decided
	idle    bool          // the flock is held for no holder
	kept    snapshot      // idle: the last holder's transaction, kept for the next read (tx nil: none)
	events  atomic.Uint64 // changes the watch counted (without the gate)
	lost    atomic.Bool   // the watch ended (without the gate): no hold until the handle is reopened

	own *writer // this process's read-write handle of the path, read under the process-level lock
}

func newReader(own *writer) *reader { return &reader{gate: make(chan struct{}, 1), own: own} }

// allowHolds counts n more (or fewer) open Stores that allow an idle hold;
// the next opening of the handle watches the file only if one does.
func (r *reader) allowHolds(n int32) { r.allowed.Add(n) }

// statPath and probeWriters are os.Stat and noWriters, variables so that
// a test can count the system calls of a read.
var (
	statPath     = os.Stat
	probeWriters = noWriters
)

// view calls fn with a snapshot of a read transaction (without one, and no
// data, if nothing is stored at path yet) under the shared flock. Under a
// WithCall call, the first read keeps its holder and its transaction for
// the call's later reads, which then neither lock, nor check, nor begin a
// transaction (call.go).
func (r *reader) view(ctx context.Context, path string, deadline time.Time, fn func(*snapshot) error) error {
	c := callOf(ctx)
	if ok, err := c.read(r, fn); ok {
		return err
	}
	snap, fresh, err := r.enter(ctx, path, deadline)
	if err != nil {
		return err
	}
	if snap.tx == nil {
		return fn(&snapshot{})
	}
	keep, failed := false, true // failed stays true on a panic
	defer func() {
		if failed || !keep || !c.hold(r, snap) {
			r.leave(snap, failed, keep)
		}
	}()
	if fresh {
		snap.data, err = readBuckets(snap.tx)
	}
	if err == nil {
		keep = true // a transaction whose buckets are unusable serves no later read
		err = fn(&snap)
	}
	failed = err != nil && !isSentinel(err)
	return err
}

// holds reports whether c holds a holder of r.
func (r *reader) holds(c *call) bool { return c.holding() == r }

// enter returns a snapshot of a read transaction of the shared handle with
// the shared flock held and one more holder counted, or one without a
// transaction and no holder if there is no database yet. The first holder
// takes the flock and checks the handle (current), or takes over an idle
// hold if nothing changed since (hold), with the transaction the hold kept
// if any; later ones share both. fresh: the transaction is new, and its
// buckets are still to be read.
func (r *reader) enter(ctx context.Context, path string, deadline time.Time) (snap snapshot, fresh bool, err error) {
	if err := r.lockGate(ctx, deadline); err != nil {
		return snapshot{}, false, err
	}
	defer r.unlockGate()
	var tx *bolt.Tx
	switch {
	case r.holders > 0:
		if tx, err = r.db.Begin(false); err != nil {
			r.stale = true
		}
	case r.idle && r.unchanged(ctx):
		r.idle = false
		if r.kept.tx != nil {
			snap, r.kept = r.kept, snapshot{}
			r.holders++
			return snap, false, nil
		}
		if tx, err = r.db.Begin(false); err != nil {
			r.close()
		}
	default:
		r.dropIdle()
		tx, err = r.first(ctx, path, deadline)
	}
	if err != nil || tx == nil {
		return snapshot{}, false, err
	}
	r.holders++
	return snapshot{tx: tx, file: r.id}, true, nil
}

// first takes the shared flock for the first holder and returns a read
// transaction of a handle that is current, reopening the file if the open
// handle is not; nil, with no flock held, if there is no database yet.
func (r *reader) first(ctx context.Context, path string, deadline time.Time) (*bolt.Tx, error) {
	if r.db != nil {
		if err := filelock.Lock(ctx, r.file, filelock.Shared, deadline); err != nil {
			if !errors.Is(err, errWaitTimeout) && ctx.Err() == nil {
				r.close() // the descriptor is broken: start afresh
			}
			return nil, err
		}
		// Count what the kernel queued before the check, this process's
		// own writer's close among it: counted later, an event from
		// before the check would look like a change after it and end
		// the idle hold this read may keep (pollHolds: not again if the
		// operation polled since it began, when it was counted then).
		if r.watched {
			pollHolds(ctx, r)
		}
		seen := r.events.Load()
		if tx := r.current(path, seen); tx != nil {
			r.checked(seen)
			return tx, nil
		}
		r.close() // releases the flock with the file
	}
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
	r.lost.Store(false)
	r.watched = r.allowed.Load() > 0 && watchHold(r, path)
	seen := r.events.Load()
	if r.watched {
		// What the watch reports begins now: the file at path must
		// still be the one opened.
		if pi, err := os.Stat(path); err != nil || !os.SameFile(fi, pi) {
			r.unwatch()
		}
	}
	tx, err := db.Begin(false)
	if err != nil {
		r.close()
		return nil, err
	}
	r.checked(seen)
	return tx, nil
}

// current returns a read transaction of the open handle if it may serve a
// read: its file is still the one at path and its pages still fit in the
// map; nil otherwise. The flock must be held.
//
// The fit is read from the newest meta page, through the map, rather than
// by an fstat of the file: every page a transaction can reach lies below
// the meta's high-water mark (tx.Size), a read-only handle reads no other
// (it loads no freelist), and the map covers at least the size the file had
// when it was opened. A system call fewer per read (~2.5 µs here). The
// transaction that reads it is the one the read then uses.
//
// The file at path is checked by a stat unless unmoved says it cannot have
// changed; seen is the watch's count, polled before.
func (r *reader) current(path string, seen uint64) *bolt.Tx {
	if !r.unmoved(seen) {
		pi, err := statPath(path)
		if err != nil || !os.SameFile(r.id, pi) {
			return nil
		}
	}
	tx, err := r.db.Begin(false)
	if err != nil {
		return nil
	}
	if tx.Size() > r.size {
		tx.Rollback()
		return nil
	}
	return tx
}

// leave ends the transaction of snap, a holder's, and uncounts the
// holder; the last one releases the flock, or closes the handle if it is
// stale, or keeps an idle hold, with the transaction if reuse (its
// buckets were read): the next read that takes the hold over then begins
// no transaction, opens no bucket and makes no cursor, since under the
// hold the file is the one it reads (see hold).
func (r *reader) leave(snap snapshot, failed, reuse bool) {
	r.gate <- struct{}{} // only briefly held while holders > 0
	defer r.unlockGate()
	r.stale = r.stale || failed
	r.holders--
	idle := r.holders == 0 && !r.stale && r.quiet && r.events.Load() == r.seen && !r.lost.Load()
	if idle && reuse {
		r.idle, r.kept = true, snap // kept for the next read: see hold
		return
	}
	// Under the gate: a handle is closed (which waits for every
	// transaction to end) only with no holder, and this one still counted
	// until now.
	snap.tx.Rollback()
	switch {
	case r.holders > 0:
	case r.stale:
		r.close()
	case idle:
		r.idle = true
	default:
		r.unlock()
	}
}

// unlock releases the flock, with no holder left and no idle hold.
func (r *reader) unlock() {
	r.quiet = false
	if err := syscall.Flock(int(r.file.Fd()), syscall.LOCK_UN); err != nil {
		r.close()
	}
}

// The idle hold. Taking the shared flock, checking the file at the path
// and releasing the flock cost three system calls per vault call, which on
// a virtual machine where a system call costs ~3 µs were a third of a
// secretstore get. So the last holder to leave keeps the flock (idle)
// when it may: the next read then takes it over after one system call (a
// poll of the watch; none when its operation polled since it began,
// inotify.Polled), not three, and with the read transaction the last
// holder kept (its buckets opened, its cursor made), since the file it
// reads cannot have changed. It may when the watch of hold_linux.go
// follows the file (its name in its folder, the folders above it, opens
// of the file) and no one had the file open for writing when the flock was
// taken (noWriters). Then:
//
//   - no writer of any process can commit while it is held, so the file
//     at the path cannot change but by a rename or removal, which the
//     watch counts before the next read uses the hold (unchanged polls
//     it); a counted change makes that read take the flock and check the
//     file afresh;
//   - a writer of another process opens the file before it waits for the
//     lock: the watch's goroutine counts the open and wakes the reader,
//     which releases the idle flock (wake), so the writer waits for an
//     idle process no longer than for one read; and a read that comes
//     first keeps no hold while the writer has the file open (noWriters),
//     so a writer does not wait longer than it would have without holds;
//   - a writer of this process releases it before taking the file's lock
//     (unhold), under the process-level lock, so no read takes it again
//     meanwhile.
//
// Without the watch (another system, no inotify instance left, a path
// through a symbolic link) or leases, the flock is released as the last
// holder leaves, as before.

// unchanged reports whether the watch counted nothing since the hold was
// judged safe to keep, after polling it (unless the operation of ctx
// polled since it began: pollHolds). The gate must be held.
func (r *reader) unchanged(ctx context.Context) bool {
	pollHolds(ctx, r)
	return r.events.Load() == r.seen && !r.lost.Load()
}

// checked records that the flock was just taken and the file checked, the
// watch having counted seen events before the check: the flock may be kept
// idle while nothing more is counted, if no one has the file open for
// writing. While this process's own read-write handle is open (a batch
// being prepared, or the linger after a write) someone has: the lease
// probe of noWriters, which the kernel would refuse, is not made. The gate
// must be held, and the process-level lock.
func (r *reader) checked(seen uint64) {
	r.seen = seen
	r.quiet = r.watched && !r.lost.Load() && !r.own.open() && probeWriters(r.file)
}

// unmoved reports whether the file at path is still the one the last
// check found, with no stat: the watch follows the path and counted
// nothing since that check (seen, polled after it, equals its count), and
// a rename or removal that made the path name another file would have been
// counted before the poll, as for an idle hold. It is used only while this
// process's read-write handle is open, when a read keeps no idle hold
// (checked) and would stat the path each time, and where an import's
// batch reads once a vault call: the flock is still taken and released per
// read, since other processes may write between the batch's calls. The
// gate must be held, and the process-level lock.
func (r *reader) unmoved(seen uint64) bool {
	return r.own.open() && r.watched && !r.lost.Load() && seen == r.seen
}

// dropIdle releases an idle hold. The gate must be held.
func (r *reader) dropIdle() {
	if r.idle {
		r.idle = false
		r.dropKept()
		r.unlock()
	}
}

// dropKept ends the transaction an idle hold kept, if any. The gate must
// be held.
func (r *reader) dropKept() {
	if r.kept.tx != nil {
		r.kept.tx.Rollback()
		r.kept = snapshot{}
	}
}

// unwatch ends the watch of r's file. The gate must be held.
func (r *reader) unwatch() {
	if r.watched {
		unwatchHold(r)
		r.watched = false
	}
}

// Wake releases an idle hold if the watch counted a change since it was
// kept: another process may be waiting for the lock.
func (r *reader) Wake() {
	r.gate <- struct{}{}
	defer r.unlockGate()
	if r.events.Load() != r.seen || r.lost.Load() {
		r.dropIdle()
	}
}

// unhold releases an idle hold before a writer of this process takes the
// file's lock, or makes the call that holds the lock release it as it
// ends; the writer holds the process-level lock for writing, so no read of
// the process takes the flock again before it is done.
func (r *reader) unhold() {
	r.gate <- struct{}{}
	defer r.unlockGate()
	r.quiet = false
	r.dropIdle()
}

// close closes the handle, which releases any flock; the gate must be held
// or the reader unused, and no holder counted.
func (r *reader) close() {
	r.dropKept()
	r.unwatch()
	if r.db != nil {
		r.db.Close()
	}
	r.db, r.file, r.id, r.size, r.stale, r.holders = nil, nil, nil, 0, false, 0
	r.idle, r.quiet = false, false
}

// shut closes the handle when the last Store of the path closes, or, if a
// call still holds it (an engine closing under a request, as the agent
// does when it stops), when that call ends: its transaction may be in use.
func (r *reader) shut() {
	r.gate <- struct{}{}
	defer r.unlockGate()
	if r.holders > 0 {
		r.stale = true
		return
	}
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
