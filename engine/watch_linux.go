package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watch counts the inotify events that name the registry file in its
// folder (a registry is replaced by a rename, so the folder is watched, not
// the file). It stops being live when the folder goes (deleted, moved,
// unmounted), when the kernel's queue overflowed, or when it is closed; the
// engine then falls back to the recheck window.
type watch struct {
	f      *os.File
	name   []byte
	count  atomic.Uint64
	broken atomic.Bool
	batch  chan struct{} // a token after each batch of events is counted: tests wait on it
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
	w := &watch{f: os.NewFile(uintptr(fd), "inotify"), name: []byte(filepath.Base(path)), batch: make(chan struct{}, 1)}
	go w.run()
	return w
}

// run counts events until the watch breaks or is closed.
func (w *watch) run() {
	defer w.broken.Store(true)
	buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		stop := w.scan(buf[:n])
		select {
		case w.batch <- struct{}{}:
		default:
		}
		if stop {
			return
		}
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
			w.count.Add(1)
			over = true
		case bytes.Equal(name, w.name):
			w.count.Add(1)
		}
	}
	return over
}

// live reports whether the watch still sees every change.
func (w *watch) live() bool { return w != nil && !w.broken.Load() }

// events returns the number of events counted so far.
func (w *watch) events() uint64 {
	if w == nil {
		return 0
	}
	return w.count.Load()
}

func (w *watch) close() {
	if w != nil {
		w.broken.Store(true)
		w.f.Close()
	}
}
