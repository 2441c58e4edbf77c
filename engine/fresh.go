package engine

import (
	"os"
	"sync/atomic"
	"time"

	"github.com/sesamehq/sesame/internal/testonly"
)

// recheck is how long an engine trusts the registry it read without
// looking at the file again, when no watch tells it of changes.
const recheck = 100 * time.Millisecond

// freshness decides when an operation must look at the registry file again.
// A stat of the file on every operation was measured at 46 % of a native
// Engine.Get; so the engine looks only when something may have changed:
//
//   - with a watch on the file's folder (Linux: inotify, watch_linux.go),
//     when the watch saw an event for the file since the last look: another
//     process's write is seen by the first operation after the kernel told
//     the watch, without a syscall on the way;
//   - without one (another system, a folder that does not exist yet, a
//     registry that is a symbolic link, no inotify instance left), at most
//     every recheck: another process's write is seen by the first
//     operation after the window.
//
// A write through any engine of this process is seen at once by every
// engine of the process (processWrites), the writer's own included. The
// registry's writers look at the file before they check anything, window
// or not (refreshNowLocked), and write under its lock from what they read
// there.
//
// Callers hold Engine.mu.
type freshness struct {
	checked time.Time // when the file was last looked at; zero: never, or expired
	watch   *watch    // nil: none (yet)
	seen    uint64    // the watch's count of events at the last look
	wrote   uint64    // processWrites at the last look
	noWatch bool      // never start a watch: Options.ShortLived, and tests of the window
}

// processWrites counts the registry writes made through the engines of this
// process (update): an engine looks at its file again when it moved, so a
// write by one engine is seen by the next operation of every other, with
// no wait for the kernel's event (a program with several engines, the
// agent's engines).
var processWrites atomic.Uint64

// due reports whether the file must be looked at now. It costs one read
// of the watch's descriptor (or, without a watch, a clock reading: vDSO, no
// syscall) and atomic loads.
func (f *freshness) due() bool {
	events, live := f.watch.state()
	switch {
	case f.checked.IsZero(), events != f.seen, processWrites.Load() != f.wrote:
		return true
	case live:
		return false
	}
	return testonly.Now().Sub(f.checked) >= recheck
}

// looking is called before the file is looked at: events from now on mean
// another look. It starts a watch on path's folder when there is none.
func (f *freshness) looking(path string) {
	if !f.watch.live() && !f.noWatch {
		f.watch.close()
		f.watch = startWatch(path)
	}
	f.seen = f.watch.events()
	f.wrote = processWrites.Load()
}

// looked records a successful look: the registry read is the file's.
func (f *freshness) looked() { f.checked = testonly.Now() }

// expire makes the next operation look at the file.
func (f *freshness) expire() { f.checked = time.Time{} }

// stop ends the watch.
func (f *freshness) stop() {
	f.watch.close()
	f.watch = nil
}

// watchable reports whether a watch on path's folder would see its
// changes: not when it is a symbolic link (a dotfiles link), whose target
// changes in another folder.
func watchable(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode().IsRegular()
}
