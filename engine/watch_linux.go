package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watch counts the inotify events that name the registry file in its
// folder (a registry is replaced by a rename, so the folder is watched, not
// the file). It stops being live when the folder goes (deleted, moved,
// unmounted), when the kernel's queue overflowed, or when it is closed; the
// engine then falls back to the recheck window.
//
// The events are read when an operation asks (events): one read of a
// non-blocking descriptor, which finds every event the kernel queued before
// the operation began. A goroutine reading them in the background let an
// operation that followed a change at once (a chmod, then a command served
// by the agent) be answered from the registry before the change.
//
// Callers hold Engine.mu.
type watch struct {
	f      *os.File // closed with the watch, or by the collector if an engine is dropped unclosed
	fd     int      // f's, read directly (no closure to allocate per operation) until broken
	name   []byte
	buf    []byte
	count  uint64
	broken bool
}

// The events that may change what the registry file holds, or its mode.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// startWatch watches the folder of path, or returns nil when it cannot.
func startWatch(path string) *watch {
	if !watchable(path) {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil // no instance left (fs.inotify.max_user_instances): the window serves
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), watchMask); err != nil {
		unix.Close(fd)
		return nil
	}
	return &watch{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, name: []byte(filepath.Base(path)),
		buf: make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))}
}

// poll counts the events queued now, until the queue is empty or the watch
// is over.
func (w *watch) poll() {
	for !w.broken {
		n, err := unix.Read(w.fd, w.buf) // never waits: what is not queued now is for a later operation
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil || n <= 0:
			w.broken = true
			return
		}
		w.broken = w.scan(w.buf[:n])
	}
}

// scan counts the events of buf that concern the registry, and reports
// whether the watch is over.
func (w *watch) scan(buf []byte) (over bool) {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			break
		}
		name := bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00")
		buf = buf[end:]
		switch {
		case ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_UNMOUNT|unix.IN_Q_OVERFLOW) != 0:
			w.count++
			over = true
		case bytes.Equal(name, w.name):
			w.count++
		}
	}
	return over
}

// state polls the queue once and returns the number of events counted so
// far, those queued now included, and whether the watch still sees every
// change: one read of the descriptor for both, the one system call of an
// operation's freshness check.
func (w *watch) state() (events uint64, live bool) {
	if w == nil {
		return 0, false
	}
	w.poll()
	return w.count, !w.broken
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
		w.broken = true
		w.f.Close()
	}
}
