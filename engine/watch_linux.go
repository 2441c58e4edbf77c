package engine

import (
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sesamehq/sesame/engine/internal/inotify"
)

// watch counts the inotify events that name the registry file in its
// folder (a registry is replaced by a rename, so the folder is watched, not
// the file). It stops being live when the folder goes (deleted, moved,
// unmounted), when the kernel's queue overflowed, or when it is closed; the
// engine then falls back to the recheck window.
//
// It is a watch of the process's inotify instance (package inotify), which
// the storage's idle holds share: one read of its descriptor, when an
// operation asks (state), finds every event the kernel queued before the
// operation began, for the registry and for the holds of the storage the
// operation then reads (inotify.Begin). A goroutine reading them in the
// background, with no read by the operation, let an operation that
// followed a change at once (a chmod, then a command served by the agent)
// be answered from the registry before the change.
type watch struct {
	count atomic.Uint64 // events counted: inotify tells them under its own lock
	over  atomic.Bool
}

// The events that may change what the registry file holds, or its mode.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// The events after which the watch no longer follows the registry's name.
const watchOver = unix.IN_IGNORED | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_UNMOUNT | unix.IN_Q_OVERFLOW

// startWatch watches the folder of path, or returns nil when it cannot.
func startWatch(path string) *watch {
	if !watchable(path) {
		return nil
	}
	w := new(watch)
	if !inotify.Add(w, filepath.Dir(path), watchMask, []byte(filepath.Base(path))) {
		return nil // no instance or watch left: the window serves
	}
	return w
}

// Noted counts an event for the registry (inotify.Watcher).
func (w *watch) Noted(mask uint32) (wake bool) {
	w.count.Add(1)
	if mask&watchOver != 0 {
		w.over.Store(true)
	}
	return false
}

// Wake is not asked for (Noted).
func (w *watch) Wake() {}

// state polls the queue once and returns the number of events counted so
// far, those queued now included, and whether the watch still sees every
// change: one read of the descriptor for both, the one system call of an
// operation's freshness check.
func (w *watch) state() (events uint64, live bool) {
	if w == nil {
		return 0, false
	}
	inotify.Poll(w)
	return w.count.Load(), !w.over.Load()
}

// live reports whether the watch still sees every change.
func (w *watch) live() bool {
	_, live := w.state()
	return live
}

// events returns the number of events counted so far, those queued now
// included.
func (w *watch) events() uint64 {
	n, _ := w.state()
	return n
}

func (w *watch) close() {
	if w != nil {
		w.over.Store(true)
		inotify.Remove(w)
	}
}
