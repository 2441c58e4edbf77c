package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The process-level lock.
//
// flock(2) locks belong to an open file description, not to a process, so
// two goroutines of one process that each open the database conflict
// exactly as two processes do. That is safe (each operation takes one lock
// and releases it before taking another, so nothing can deadlock) but slow:
// the loser can only poll. Every Store of a process on the same path
// therefore shares one pathLock, a reader/writer lock that hands over at
// once, and the file lock is only ever contended between processes. The
// pathLock also keeps the read-only and the read-write database handles of
// the path (see reader_unix.go and writer_unix.go).

// registry maps an absolute database path to the lock its Stores share.
var registry = struct {
	sync.Mutex
	locks map[string]*pathLock
}{locks: make(map[string]*pathLock)}

type pathLock struct {
	refs   int         // Stores holding this lock; guarded by registry
	reader *reader     // the read-only handle, used under rwLock held shared
	writes *writer     // the read-write handle, used under rwLock held exclusive
	linger *time.Timer // closes writes once no write came for writerLinger
	rwLock

	// batches counts the path's Batches begun and neither committed nor
	// discarded; kept counts the lingers that ended since the last write
	// and kept the handle for them (under the lock held exclusive).
	batches atomic.Int32
	kept    int
}

// writerLinger is how long the read-write handle is kept after a write.
// A handle kept open for writing costs every reader of the file, in this
// process and others, its idle hold (reader_unix.go: no hold is kept while
// anyone has the file open for writing), and an agent that served one set
// would keep it for hours; a burst of writes (an import's batches, sets in
// a loop) comes faster than this and keeps the handle (writer_unix.go).
const writerLinger = 100 * time.Millisecond

// batchLingers is how many lingers in a row a Batch in preparation keeps
// the read-write handle for, after the last write: 5 s. An import's batch
// of a thousand secrets takes longer than one linger to prepare (its gets
// and sets through the vault), and the handle closed between two of its
// commits, so that each commit opened, checked and mapped the file anew (an
// import of 20 000 secrets opened it 18 times; 6 with this); so a handle
// whose path has a batch that will commit waits for it, but not for ever: a batch left waiting on a
// confirmation, or one whose caller forgot to discard it, would keep other
// processes' readers from their idle hold.
const batchLingers = 50

// wrote keeps the read-write handle for writerLinger more: called under
// the lock held exclusive, after a write.
func (l *pathLock) wrote() {
	l.kept = 0
	if l.linger == nil {
		l.linger = time.AfterFunc(writerLinger, l.closeWriter)
		return
	}
	l.linger.Reset(writerLinger)
}

// closeWriter closes the read-write handle once no write holds it, so that
// reads may keep their idle hold again. A write that comes meanwhile
// opens the file anew.
func (l *pathLock) closeWriter() { l.shutWriter(false) }

// retireWriter closes the read-write handle, and stops the linger, when
// the last Store of the path closes.
func (l *pathLock) retireWriter() { l.shutWriter(true) }

// shutWriter closes the read-write handle, and stops the linger's timer if
// retire, under the lock held exclusive: the timer may be running.
func (l *pathLock) shutWriter(retire bool) {
	if l.lock(context.Background(), true, time.Now().Add(DefaultWait)) != nil {
		return // busy writing for that long: the next write's timer comes
	}
	defer l.unlock(true)
	if retire && l.linger != nil {
		l.linger.Stop()
	}
	if !retire && l.linger != nil && l.batches.Load() > 0 && l.kept < batchLingers {
		l.kept++
		l.linger.Reset(writerLinger) // a batch will commit: see batchLingers
		return
	}
	l.writes.close()
}

// acquirePathLock returns the lock shared by the Stores on path, counting a
// reference that releasePathLock gives back; hold counts one that allows
// its reader an idle hold (Options.NoIdleHold).
func acquirePathLock(path string, hold bool) *pathLock {
	registry.Lock()
	defer registry.Unlock()
	l := registry.locks[path]
	if l == nil {
		w := newWriter()
		l = &pathLock{reader: newReader(w), writes: w}
		l.changed = make(chan struct{})
		registry.locks[path] = l
	}
	l.refs++
	if hold {
		l.reader.allowHolds(1)
	}
	return l
}

func releasePathLock(path string, hold bool) {
	registry.Lock()
	defer registry.Unlock()
	l := registry.locks[path]
	if l == nil {
		return
	}
	if hold {
		l.reader.allowHolds(-1)
	}
	if l.refs--; l.refs == 0 {
		delete(registry.locks, path)
		// Their Stores are closed, but a call that read through one may
		// still release its hold (unhold): shut takes the gate.
		l.reader.shut()
		l.retireWriter()
	}
}

// rwLock is a reader/writer lock whose waiters give up when a context ends
// or a deadline passes. A waiting writer holds back new readers, so a
// stream of readers cannot starve it.
type rwLock struct {
	mu             sync.Mutex
	readers        int
	writer         bool
	waitingWriters int
	waiters        int           // goroutines waiting on changed
	changed        chan struct{} // closed, then replaced, on a release that has waiters
}

// lock takes the lock shared (write false) or exclusive (write true). It
// returns errWaitTimeout after deadline, or ctx.Err().
func (l *rwLock) lock(ctx context.Context, write bool, deadline time.Time) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	l.mu.Lock()
	if write {
		l.waitingWriters++
	}
	for {
		if write && !l.writer && l.readers == 0 {
			l.waitingWriters--
			l.writer = true
			l.mu.Unlock()
			return nil
		}
		if !write && !l.writer && l.waitingWriters == 0 {
			l.readers++
			l.mu.Unlock()
			return nil
		}
		changed := l.changed
		l.waiters++
		l.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
		}
		var err error
		select {
		case <-changed:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = errWaitTimeout
		}
		l.mu.Lock()
		l.waiters--
		if err != nil {
			if write {
				l.waitingWriters--
				l.broadcast() // readers held back by this writer may go
			}
			l.mu.Unlock()
			return err
		}
	}
}

// unlock releases what lock(write) took.
func (l *rwLock) unlock(write bool) {
	l.mu.Lock()
	if write {
		l.writer = false
	} else {
		l.readers--
	}
	l.broadcast()
	l.mu.Unlock()
}

// broadcast wakes every waiter; l.mu must be held. Without waiters it has
// nothing to do, and keeps the channel: most releases have none.
func (l *rwLock) broadcast() {
	if l.waiters == 0 {
		return
	}
	close(l.changed)
	l.changed = make(chan struct{})
}
